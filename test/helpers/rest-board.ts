import { readFileSync } from 'node:fs';
import { DeviceRestClient } from '../../src/device/rest/device-rest-client.js';
import type { BoardSurfaces } from '../../src/emulator/emulator-host.js';
import { disconnect, EmulatorProcess, type ConnectedBoard } from './emulator-process.js';
import { RigKeys } from './rig-keys.js';

/**
 * One emulated board reached the way the rig reaches it: the emulator as its
 * own program, the REST API on the loopback port it prints, the rig's REST CA
 * pinned, the debug UART as a console log and the control channel for pins.
 */
export interface RestSurfaces extends BoardSurfaces {
  restPort: number;
  restUrl: string;
  restCa: string;
}

export class RestBoard {
  private readonly clients: DeviceRestClient[] = [];

  private constructor(
    readonly emulator: EmulatorProcess,
    readonly board: ConnectedBoard,
    readonly keys: RigKeys,
    readonly surfaces: RestSurfaces,
    readonly ca: Buffer,
  ) {}

  static async start(): Promise<RestBoard> {
    const emulator = await EmulatorProcess.start({ boards: 1 });
    let board: ConnectedBoard | undefined;
    try {
      board = await emulator.connect(0);
      const surfaces = board.surfaces as RestSurfaces;
      const keys = await RigKeys.of(emulator.stateDir);
      // Short health windows keep updates quick; restarts of crashed apps likewise.
      await board.control.request('timings', { healthWindowMs: 50, watchdogMs: 200, appRestartMs: 10 });
      const since = board.console.mark();
      await board.control.request('power', { on: true });
      await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
      return new RestBoard(emulator, board, keys, surfaces, readFileSync(surfaces.restCa));
    } catch (error) {
      await disconnect(board);
      await emulator.stop();
      throw error;
    }
  }

  get deviceId(): string {
    return this.surfaces.deviceId;
  }

  get port(): number {
    return this.surfaces.restPort;
  }

  /** A capability image for this board, signed with the rig's capability key. */
  capability(capabilities: number[]): Buffer {
    return this.keys.capability(this.deviceId, capabilities);
  }

  /** A client pinned to the rig's CA; with capabilities, they ride along in AZSPHERE-CAPABILITIES. */
  client(capabilities?: number[]): DeviceRestClient {
    const client = new DeviceRestClient({ baseUrl: this.surfaces.restUrl, caPem: this.ca, capabilityImage: capabilities ? this.capability(capabilities) : undefined });
    this.clients.push(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.close();
    await disconnect(this.board);
    await this.emulator.stop();
  }
}
