import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import {
  type AttestationOutcome,
  type Board,
  type BoardIdentity,
  type BoardInfo,
  type BoardState,
  type CallOptions,
  type FaultSpec,
  type RecoveryProgress,
} from '../board.js';
import { ContinuousConsole } from '../continuous-console.js';
import { ConsoleLog } from '../console-log.js';
import { TcpLineSource } from '../tcp-line-source.js';
import { componentLogger } from '../../util/logger.js';
import { APP_OUTPUT, APP_UART_PREFIX, DEBUG_UART, EMULATOR_TRACE, RECOVERY_UART } from '../console-channel.js';

const log = componentLogger('emulated-board');

/** One of the board's UARTs (a pty) as a console source: what its host side reads. */
function openUart(board: string, channel: string, path: string, signal?: AbortSignal): Promise<ConsoleLog> {
  return ConsoleLog.open({ path, name: `${board}/${channel}`, maxLines: 256, signal });
}

/** An emulated board's app UART, named as a bench would name the adapter on ISU0. */
const EMULATED_APP_UART = `${APP_UART_PREFIX}isu0`;
import { ControlClient } from './control-client.js';
import { DeviceRestClient } from '../rest/device-rest-client.js';
import { RigError } from '../../util/failure.js';

/**
 * The `Board` driver for an emulated MT3620: the console reads the board's
 * recovery and debug UARTs (ptys opened with serialport) and a debugged app's
 * output port (TCP), as on a real board, plus the emulator-only trace when the
 * emulator offers one (its lines tagged so, and no built-in step looks at
 * them); pins and power go over the control channel, the REST API over
 * loopback HTTPS. Everything above this driver runs unchanged on hardware.
 */
export interface EmulatedBoardSurfaces {
  name: string;
  deviceId: string;
  debugUart: string;
  recoveryUart: string;
  controlPort: number;
  controlHost?: string;
  restUrl?: string;
  restCa?: string;
  /** The debug output port on controlHost (TCP 2342 on a real board). */
  appOutputPort?: number;
  /** Emulator-only readable trace pty; null or absent when switched off. */
  emulatorTrace?: string | null;
  /** The apps' ISU UART as a bench would wire it (console channel app-uart:isu0). */
  appUart?: string;
  [field: string]: unknown;
}

const EMULATOR_STATES: Readonly<Record<string, BoardState>> = {
  off: 'off',
  'rom-recovery': 'rom-recovery',
  booting: 'booting',
  ready: 'ready',
  hung: 'hung',
  'rom-wait': 'broken',
};

export class EmulatedBoardDriver extends EventEmitter<{ state: [state: BoardState] }> implements Board {
  #state: BoardState = 'unknown';

  private constructor(
    readonly identity: BoardIdentity,
    readonly surfaces: EmulatedBoardSurfaces,
    readonly control: ControlClient,
    readonly console: ContinuousConsole,
  ) {
    super();
    control.on('event', (event) => {
      if (event.event === 'state' && typeof event.state === 'string') this.#setState(EMULATOR_STATES[event.state] ?? 'unknown');
    });
    control.on('close', () => this.#setState('offline'));
  }

  static async connect(
    identity: Omit<BoardIdentity, 'driver' | 'deviceId' | 'usbSerial'>,
    surfaces: EmulatedBoardSurfaces,
    options: CallOptions = {},
  ): Promise<EmulatedBoardDriver> {
    const control = await ControlClient.connect({ host: surfaces.controlHost ?? '127.0.0.1', port: surfaces.controlPort, signal: options.signal, defaultTimeoutMs: 60_000 });
    const serial: Array<[channel: string, path: string]> = [
      [RECOVERY_UART, surfaces.recoveryUart],
      [DEBUG_UART, surfaces.debugUart],
      ...(typeof surfaces.emulatorTrace === 'string' ? [[EMULATOR_TRACE, surfaces.emulatorTrace] as [string, string]] : []),
      ...(typeof surfaces.appUart === 'string' ? [[EMULATED_APP_UART, surfaces.appUart] as [string, string]] : []),
    ];
    const appOutput = typeof surfaces.appOutputPort === 'number';
    const console = new ContinuousConsole(identity.id, { channels: [...serial.map(([channel]) => channel), ...(appOutput ? [APP_OUTPUT] : [])] });
    try {
      for (const [channel, path] of serial) console.attach(await openUart(identity.id, channel, path, options.signal), channel);
      if (appOutput) {
        console.attach(new TcpLineSource({ host: surfaces.controlHost ?? '127.0.0.1', port: surfaces.appOutputPort as number, name: `${identity.id}/${APP_OUTPUT}` }), APP_OUTPUT);
      }
    } catch (error) {
      await Promise.allSettled([control.close(), console.close()]);
      throw error;
    }
    const driver = new EmulatedBoardDriver(
      { ...identity, driver: 'emulated', deviceId: surfaces.deviceId, usbSerial: null },
      surfaces,
      control,
      console,
    );
    await driver.info(options).catch(() => undefined);
    return driver;
  }

  state(): BoardState {
    return this.#state;
  }

  async info(options: CallOptions = {}): Promise<BoardInfo> {
    const info = await this.#request('info', {}, options);
    this.#setState(EMULATOR_STATES[String(info.state)] ?? 'unknown');
    return { ...info, state: this.#state, osVersion: (info.osVersion as string | null) ?? null, deviceId: String(info.deviceId), apps: (info.apps as BoardInfo['apps']) ?? [] };
  }

  async power(on: boolean, options: CallOptions = {}): Promise<void> {
    await this.#request('power', { on }, options);
  }

  async reset(options: CallOptions = {}): Promise<void> {
    await this.#request('reset', {}, options);
  }

  async setRecoveryStrap(high: boolean, options: CallOptions = {}): Promise<void> {
    await this.#request('strap', { recovery: high }, options);
  }

  restEndpoint(): { baseUrl: string; caPem: string } | undefined {
    if (!this.surfaces.restUrl || !this.surfaces.restCa) return undefined;
    return { baseUrl: this.surfaces.restUrl, caPem: readFileSync(this.surfaces.restCa, 'utf8') };
  }

  async otaInstall(images: Buffer[], options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#request('install', { images: images.map((i) => i.toString('base64')) }, options);
  }

  async recover(imagesDir: string, options: CallOptions & { capability?: Buffer; onProgress?: (p: RecoveryProgress) => void } = {}): Promise<void> {
    const { recoverBoard } = await import('./emulated-recovery.js');
    // The recovery client needs the recovery UART to itself; its boot lines resume after.
    await this.console.detach(RECOVERY_UART);
    try {
      await recoverBoard(this, imagesDir, options);
    } finally {
      // Without it the console goes on; only the recovery UART's boot lines are missed.
      await openUart(this.identity.id, RECOVERY_UART, this.surfaces.recoveryUart).then(
        (source) => this.console.attach(source, RECOVERY_UART),
        (error: unknown) => log.warn('recovery UART not reopened after the recovery', { board: this.identity.id, error: (error as Error).message }),
      );
    }
  }

  async attest(options: CallOptions = {}): Promise<AttestationOutcome> {
    const result = await this.#request('attest', {}, options);
    return result as unknown as AttestationOutcome;
  }

  /** The board's device-authentication state as its OS reports it (no new attestation). */
  async deviceAuth(options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#request('device-auth', {}, options);
  }

  async fault(spec: FaultSpec, options: CallOptions = {}): Promise<Record<string, unknown>> {
    switch (spec.kind) {
      case 'power-cut':
        return this.#request('power-cut', { beforeOperation: spec.beforeOperation }, options);
      case 'disarm-power-cut':
        return this.#request('power-cut', { disarm: true }, options);
      case 'flash-mark':
        return this.#request('flash-mark', {}, options);
      case 'hang':
        return this.#request('hang', { stage: spec.stage, ...(spec.onlyInTrial === undefined ? {} : { onlyInTrial: spec.onlyInTrial }) }, options);
      case 'corrupt':
        return this.#request('corrupt', { slot: spec.slot, imageType: spec.imageType }, options);
      case 'kill-app':
        return this.#request('kill-app', { componentId: spec.componentId, ...(spec.signal ? { signal: spec.signal } : {}) }, options);
      case 'timings':
        return this.#request('timings', spec.timings, options);
      case 'clear-capability':
        return this.#request('clear-capability', {}, options);
      case 'await-settled':
        return this.#request('await-settled', options.timeoutMs ? { timeoutMs: Math.max(1, Math.min(3_600_000, Math.floor(options.timeoutMs))) } : {}, options);
    }
  }

  async advanceClock(ms: number, options: CallOptions = {}): Promise<void> {
    await this.#request('clock', { advanceMs: ms }, options);
  }

  /** The pending error report as a real board gives it: GET /telemetry (the emulator's documented JSON encoding). */
  async errorReport(options: CallOptions & { capability?: Buffer } = {}): Promise<unknown> {
    const endpoint = this.restEndpoint();
    if (!endpoint) return this.#request('error-report', {}, options);
    const rest = new DeviceRestClient({ baseUrl: endpoint.baseUrl, caPem: endpoint.caPem, ...(options.capability ? { capabilityImage: options.capability } : {}) });
    try {
      const blob = await rest.telemetry(options);
      try {
        return JSON.parse(blob.toString('utf8')) as unknown;
      } catch (error) {
        throw new RigError('device-fault', 'telemetry-unreadable', `board ${this.identity.id}: GET /telemetry is not the emulator's JSON error report: ${(error as Error).message}`);
      }
    } finally {
      rest.close();
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.control.close(), this.console.close()]);
  }

  async #request(cmd: string, params: Record<string, unknown>, options: CallOptions): Promise<Record<string, unknown>> {
    if (this.control.closed) throw new RigError('infra-error', 'board-offline', `board ${this.identity.id}: the emulator's control channel is closed`);
    return this.control.request(cmd, params, { signal: options.signal, timeoutMs: options.timeoutMs });
  }

  #setState(state: BoardState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}
