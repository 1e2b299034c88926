import { EventEmitter } from 'node:events';
import type { AttestationOutcome, Board, BoardConsole, BoardIdentity, BoardInfo, BoardState } from './board.js';
import type { ConsoleExpectOptions, ConsoleLine } from './console-history.js';
import { RigError } from '../util/failure.js';

/** The console of a board nobody can hear: no lines, and expecting one is an infrastructure error. */
class SilentConsole extends EventEmitter<{ line: [line: ConsoleLine] }> implements BoardConsole {
  constructor(private readonly why: string) {
    super();
  }

  mark(): number {
    return 1;
  }

  lines(): ConsoleLine[] {
    return [];
  }

  async expect(pattern: RegExp | string, _options: ConsoleExpectOptions): Promise<ConsoleLine> {
    throw new RigError('infra-error', 'board-offline', `cannot wait for ${String(pattern)}: ${this.why}`);
  }
}

/**
 * A board the rig lists but cannot reach (a real board not plugged in, no USB
 * bus): it stays `offline`, every action is an infrastructure error naming why,
 * and the rest of the rig keeps serving.
 */
export class OfflineBoard extends EventEmitter<{ state: [state: BoardState] }> implements Board {
  readonly console: BoardConsole;

  constructor(
    readonly identity: BoardIdentity,
    readonly why: string,
  ) {
    super();
    this.console = new SilentConsole(why);
  }

  state(): BoardState {
    return 'offline';
  }

  #fail(): never {
    throw new RigError('infra-error', 'board-offline', `board ${this.identity.id} is offline: ${this.why}`);
  }

  async info(): Promise<BoardInfo> {
    return { state: 'offline', osVersion: null, deviceId: this.identity.deviceId, apps: [], offlineReason: this.why };
  }

  power = async (): Promise<void> => this.#fail();
  reset = async (): Promise<void> => this.#fail();
  setRecoveryStrap = async (): Promise<void> => this.#fail();
  restEndpoint = (): undefined => undefined;
  otaInstall = async (): Promise<Record<string, unknown>> => this.#fail();
  recover = async (): Promise<void> => this.#fail();
  attest = async (): Promise<AttestationOutcome> => this.#fail();
  fault = async (): Promise<Record<string, unknown>> => this.#fail();
  advanceClock = async (): Promise<void> => this.#fail();
  errorReport = async (): Promise<unknown> => this.#fail();
  async close(): Promise<void> {}
}
