import type { EventEmitter } from 'node:events';
import type { ConsoleExpectOptions, ConsoleLine } from './console-history.js';
import { RigError } from '../util/failure.js';

/**
 * The host's side of one board, real or emulated (after labgrid: small protocol
 * interfaces implemented by drivers). Scenario steps only ever talk to this.
 * A capability a driver does not have raises `NotApplicableError`, so a
 * scenario that needs it ends `not-applicable`, never failed.
 */
export type BoardState = 'unknown' | 'off' | 'rom-recovery' | 'booting' | 'ready' | 'hung' | 'broken' | 'offline';

export const BOARD_STATES: readonly BoardState[] = ['unknown', 'off', 'rom-recovery', 'booting', 'ready', 'hung', 'broken', 'offline'];

export interface BoardIdentity {
  id: string;
  driver: 'emulated' | 'mt3620';
  deviceId: string | null;
  usbSerial: string | null;
  tags: string[];
  tenant: string | null;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface BoardInfo {
  state: BoardState;
  osVersion: string | null;
  deviceId: string | null;
  apps: Array<{ componentId: string; imageId?: string; state: string }>;
  [field: string]: unknown;
}

/** What emulated boards can be made to suffer; real boards answer not-applicable except power. */
export type FaultSpec =
  | { kind: 'power-cut'; beforeOperation: number }
  | { kind: 'disarm-power-cut' }
  | { kind: 'flash-mark' }
  | { kind: 'hang'; stage: string | null; onlyInTrial?: boolean }
  | { kind: 'corrupt'; slot: 'a' | 'b' | 'active' | 'inactive'; imageType: number }
  | { kind: 'kill-app'; componentId: string; signal?: number }
  | { kind: 'timings'; timings: Record<string, number> }
  | { kind: 'clear-capability' }
  /** Wait until the board's boot and any update trial are over (emulated boards' own bookkeeping). */
  | { kind: 'await-settled' };

export interface RecoveryProgress {
  stage: string;
  imagesRemaining?: number;
  imageCount?: number;
  bytesRemaining?: number;
  totalBytes?: number;
}

export interface AttestationOutcome {
  affirmed: boolean;
  certificatePem: string | null;
  chainPem: string | null;
  reasons: Array<{ code: string; recoverable?: boolean; detail?: string }>;
  [field: string]: unknown;
}

/** The part of a console log steps use; `ContinuousConsole` merges a board's outputs, each line tagged with its channel. */
export interface BoardConsole {
  /** The channels lines come from (console-channel.ts); absent: one untagged port. */
  channels?(): string[];
  mark(): number;
  lines(since?: number): ConsoleLine[];
  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine>;
  on(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  off(event: 'line', listener: (line: ConsoleLine) => void): unknown;
}

export interface Board extends EventEmitter<{ state: [state: BoardState] }> {
  readonly identity: BoardIdentity;
  readonly console: BoardConsole;
  state(): BoardState;
  info(options?: CallOptions): Promise<BoardInfo>;
  power(on: boolean, options?: CallOptions): Promise<void>;
  reset(options?: CallOptions): Promise<void>;
  setRecoveryStrap(high: boolean, options?: CallOptions): Promise<void>;
  /** Base URL and pinned CA of the device REST API. */
  restEndpoint(): { baseUrl: string; caPem: string } | undefined;
  /** Emulated boards: an OTA delivery; real boards: not applicable. */
  otaInstall(images: Buffer[], options?: CallOptions): Promise<Record<string, unknown>>;
  recover(imagesDir: string, options?: CallOptions & { capability?: Buffer; onProgress?: (p: RecoveryProgress) => void }): Promise<void>;
  attest(options?: CallOptions): Promise<AttestationOutcome>;
  fault(spec: FaultSpec, options?: CallOptions): Promise<Record<string, unknown>>;
  advanceClock(ms: number, options?: CallOptions): Promise<void>;
  /** The pending error report; `capability` (a FieldServicing or AppDevelopment image) goes in the request, as a servicing tool sends it. */
  errorReport(options?: CallOptions & { capability?: Buffer }): Promise<unknown>;
  close(): Promise<void>;
}

export class NotApplicableError extends RigError {
  constructor(what: string, driver: string) {
    super('not-applicable', 'not-applicable', `${what} is not available on ${driver} boards`, { what, driver });
  }
}
