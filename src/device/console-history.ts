import { RigError, type FailureClass } from '../util/failure.js';

/** One line a board printed on one of its outputs, as received by the host. */
export interface ConsoleLine {
  /** 1, 2, 3... in arrival order; never reused, even after old lines are dropped. */
  seq: number;
  /** Arrival time, ms since the epoch. */
  timestamp: number;
  /** The line without its "\n" or "\r\n". */
  text: string;
  /** Which output it came from (console-channel.ts); absent for a single-port console. */
  channel?: string;
}

export interface ConsoleExpectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Match lines from this sequence number on, including lines that arrived
   * before the call: take `mark()` before an action, expect with `since` after
   * it, and nothing the action caused can be missed. Default: `mark()` at the call.
   */
  since?: number;
  /** Only lines from these channels match (default: any line). */
  channels?: readonly string[];
}

export class ConsoleError extends RigError {
  constructor(failureClass: FailureClass, code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClass, code, message, details, options);
  }
}

export interface ConsoleHistoryOptions {
  /** Lines kept; older ones are dropped and counted. */
  maxLines: number;
  /** Added to an expect's timeout message, e.g. why no lines can be arriving right now. */
  timeoutNote?: () => string;
}

interface Waiter {
  matches: (line: ConsoleLine) => boolean;
  resolve: (line: ConsoleLine) => void;
  fail: (error: ConsoleError) => void;
}

const LINES_IN_TIMEOUT_MESSAGE = 5;

/**
 * The numbered, bounded line history of one console and `expect` on it (after
 * pytest-embedded), whatever the lines come from: the serial `ConsoleLog`
 * and the real board's `ContinuousConsole` both keep theirs here.
 */
export class ConsoleHistory {
  private readonly name: string;
  private readonly maxLines: number;
  private readonly timeoutNote: () => string;
  private readonly ring: Array<ConsoleLine | undefined>;
  private ringStart = 0;
  private ringCount = 0;
  private nextSeq = 1;
  private dropped = 0;
  private readonly waiters = new Set<Waiter>();
  private closedError: ConsoleError | undefined;

  constructor(name: string, options: ConsoleHistoryOptions) {
    // 0 would make an empty ring (NaN positions), -1 or 1.5 a RangeError from the Array.
    if (!Number.isInteger(options.maxLines) || options.maxLines < 1) {
      throw new ConsoleError('infra-error', 'invalid-max-lines', `console ${name}: maxLines must be a positive integer, got ${options.maxLines}`, { maxLines: options.maxLines });
    }
    this.name = name;
    this.maxLines = options.maxLines;
    this.timeoutNote = options.timeoutNote ?? (() => '');
    this.ring = new Array<ConsoleLine | undefined>(Math.min(this.maxLines, 1024));
  }

  /** The sequence number the next line will get: pass it as `since`. */
  mark(): number {
    return this.nextSeq;
  }

  /** Lines dropped because more than maxLines arrived. */
  get droppedLines(): number {
    return this.dropped;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** The kept lines with seq >= since, oldest first. */
  lines(since = 0): ConsoleLine[] {
    const out: ConsoleLine[] = [];
    const first = Math.max(since, this.nextSeq - this.ringCount);
    for (let seq = first; seq < this.nextSeq; seq += 1) out.push(this.lineAt(seq));
    return out;
  }

  /** Numbers and keeps a line and hands it to the expects it matches; returns it for the owner to announce. */
  record(text: string, timestamp: number, channel?: string): ConsoleLine {
    const line: ConsoleLine = channel === undefined ? { seq: this.nextSeq, timestamp, text } : { seq: this.nextSeq, timestamp, text, channel };
    this.store(line);
    this.nextSeq += 1;
    for (const waiter of [...this.waiters]) if (waiter.matches(line)) waiter.resolve(line);
    return line;
  }

  /** Resolves with the first line at or after `since` that matches; a string matches as a substring. */
  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    const { timeoutMs, signal } = options;
    const describe = describePattern(pattern);
    if (signal?.aborted) return Promise.reject(consoleCancelled(`console ${this.name}: expecting ${describe}`, signal));
    const matchesText = matcherFor(pattern);
    const channels = options.channels;
    const matches = (line: ConsoleLine): boolean => (!channels || channels.includes(line.channel ?? '')) && matchesText(line.text);
    const earlier = this.lines(options.since ?? this.nextSeq).find((line) => matches(line));
    if (earlier) return Promise.resolve(earlier);
    if (this.closedError) return Promise.reject(this.closedError);

    return new Promise((resolve, reject) => {
      const finish = (): void => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        matches,
        resolve: (line) => {
          finish();
          resolve(line);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(consoleCancelled(`console ${this.name}: expecting ${describe}`, signal));
      const timer = setTimeout(() => {
        const lastLines = this.lines()
          .filter((line) => !channels || channels.includes(line.channel ?? ''))
          .slice(-LINES_IN_TIMEOUT_MESSAGE)
          .map((line) => line.text);
        const tail = lastLines.length ? lastLines.map((text) => `\n  | ${text}`).join('') : ' (none)';
        waiter.fail(
          new ConsoleError(
            'timeout',
            'console-expect-timeout',
            `console ${this.name}: no line matching ${describe}${channels ? ` on ${channels.join(' or ')}` : ''} within ${timeoutMs} ms${this.timeoutNote()}; last lines:${tail}`,
            { pattern: describe, timeoutMs, lastLines },
          ),
        );
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /**
   * Fails pending and later expects with `error`. Returns false when the
   * history was already closed (the first reason stands).
   */
  close(error: ConsoleError): boolean {
    if (this.closedError) return false;
    this.closedError = error;
    for (const waiter of [...this.waiters]) waiter.fail(error);
    return true;
  }

  /** A ring buffer that grows up to maxLines, then overwrites the oldest line. */
  private store(line: ConsoleLine): void {
    if (this.ringCount === this.ring.length && this.ring.length < this.maxLines) {
      const grown = this.lines();
      this.ring.length = Math.min(this.maxLines, this.ring.length * 2);
      grown.forEach((kept, i) => (this.ring[i] = kept));
      this.ringStart = 0;
    }
    if (this.ringCount < this.ring.length) {
      this.ring[(this.ringStart + this.ringCount) % this.ring.length] = line;
      this.ringCount += 1;
    } else {
      this.ring[this.ringStart] = line;
      this.ringStart = (this.ringStart + 1) % this.ring.length;
      this.dropped += 1;
    }
  }

  private lineAt(seq: number): ConsoleLine {
    const offset = seq - (this.nextSeq - this.ringCount);
    return this.ring[(this.ringStart + offset) % this.ring.length] as ConsoleLine;
  }
}

function matcherFor(pattern: RegExp | string): (text: string) => boolean {
  if (typeof pattern === 'string') return (text) => text.includes(pattern);
  // A /g or /y pattern keeps lastIndex between tests; matching must not depend on history.
  const regex = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return (text) => regex.test(text);
}

function describePattern(pattern: RegExp | string): string {
  return typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
}

export function consoleCancelled(what: string, signal: AbortSignal | undefined): ConsoleError {
  return new ConsoleError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: signal?.reason });
}
