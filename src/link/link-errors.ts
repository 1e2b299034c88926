import { RigError } from '../util/failure.js';

/**
 * The typed errors of the link layer. Each carries a failure class so a caller can
 * tell a board that sent garbage (device-fault) from a wait that ran out (timeout),
 * an operator who stopped the run (cancelled) or a port that went away (infra-error).
 */

/** Bytes from the other side that do not parse: bad COBS, a bad message body. */
export class MalformedDataError extends RigError {
  /** Byte offset into the buffer being decoded where the fault was found. */
  readonly offset: number;

  constructor(code: string, message: string, offset: number, details: Record<string, unknown> = {}) {
    super('device-fault', code, `${message} (at byte offset ${offset})`, { offset, ...details });
    this.offset = offset;
  }
}

/** A wait for bytes (or for a write to complete) ran out of time. */
export class LinkTimeoutError extends RigError {
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, details: Record<string, unknown> = {}) {
    super('timeout', 'link-timeout', `${what}: no answer within ${timeoutMs} ms`, { timeoutMs, ...details });
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired while waiting. */
export class LinkCancelledError extends RigError {
  constructor(what: string, reason?: unknown) {
    super('cancelled', 'link-cancelled', `${what}: cancelled`, {}, reason === undefined ? undefined : { cause: reason });
  }
}

/** The channel was closed (locally, or the stream under it ended) while bytes were awaited. */
export class LinkClosedError extends RigError {
  constructor(what: string, cause?: unknown) {
    super(
      'infra-error',
      'link-closed',
      `${what}: the channel is closed`,
      {},
      cause === undefined ? undefined : { cause },
    );
  }
}

/** A delimited read found no delimiter within the bytes it was allowed to look at. */
export class LinkOverflowError extends RigError {
  readonly limit: number;

  constructor(what: string, limit: number) {
    super('device-fault', 'link-overflow', `${what}: no delimiter within ${limit} bytes`, { limit });
    this.limit = limit;
  }
}

/** The caller misused the link layer (a value out of range, two reads at once): the rig's own bug. */
export class LinkUsageError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super('infra-error', code, message, details);
  }
}
