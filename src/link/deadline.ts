import { LinkCancelledError, LinkTimeoutError } from './link-errors.js';

/** How long one wait may take and what may cut it short; every wait in the link layer takes one. */
export interface WaitOptions {
  /** Milliseconds before the wait fails with LinkTimeoutError (0 = only what is already there). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** The two ways an operation started by `waitFor` reports its outcome. */
export interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Runs `start`, which begins an operation and settles it later (or at once), and fails
 * the operation with a typed error when the timeout passes or the signal fires first.
 * `start` may return a cleanup; it runs exactly once, whatever the outcome, so no timer
 * or listener outlives the wait.
 */
export function waitFor<T>(
  what: string,
  options: WaitOptions,
  start: (settle: Settle<T>) => (() => void) | void,
): Promise<T> {
  const { timeoutMs, signal } = options;
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new LinkCancelledError(what, signal.reason));
      return;
    }
    let settled = false;
    let cleanup: (() => void) | void = undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (cleanup) cleanup();
      outcome();
    };
    const onAbort = (): void => finish(() => reject(new LinkCancelledError(what, signal?.reason)));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => finish(() => reject(new LinkTimeoutError(what, timeoutMs))), Math.max(0, timeoutMs));
    }
    try {
      cleanup = start({
        resolve: (value) => finish(() => resolve(value)),
        reject: (error) => finish(() => reject(error)),
      });
    } catch (error) {
      finish(() => reject(error));
    }
    // Settled synchronously inside start: its cleanup was not known yet when finish ran.
    if (settled && cleanup) cleanup();
  });
}

/** One point in time shared by successive waits, so a loop of reads never overruns its overall limit. */
export class Deadline {
  private readonly endsAt: number;

  constructor(readonly timeoutMs: number) {
    this.endsAt = Date.now() + timeoutMs;
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - Date.now());
  }

  expired(): boolean {
    return Date.now() >= this.endsAt;
  }
}
