import { EventEmitter } from 'node:events';
import type { BoardConsole } from '../board.js';
import { ConsoleError, type ConsoleExpectOptions, type ConsoleLine } from '../console-log.js';

/**
 * One console history for a real board across everything that takes its
 * debug UART away: USB re-enumeration after a power cycle (the tty comes back
 * as another ttyUSBn), the recovery strap (interface A is in bit-bang mode
 * while it is held). The serial `ConsoleLog` underneath is replaced each time;
 * callers see one sequence of lines, numbered without gaps or reuse, and an
 * `expect` simply keeps waiting while no UART is attached.
 */
export interface ConsoleLineSource {
  on(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  off(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  close(): Promise<void>;
}

interface Waiter {
  matches: (text: string) => boolean;
  resolve: (line: ConsoleLine) => void;
  fail: (error: ConsoleError) => void;
}

const LINES_IN_TIMEOUT_MESSAGE = 5;

export class ContinuousConsole extends EventEmitter<{ line: [line: ConsoleLine]; attached: []; detached: [] }> implements BoardConsole {
  readonly #name: string;
  readonly #maxLines: number;
  #lines: ConsoleLine[] = [];
  #nextSeq = 1;
  #source: ConsoleLineSource | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(name: string, options: { maxLines?: number } = {}) {
    super();
    this.#name = name;
    this.#maxLines = options.maxLines ?? 100_000;
  }

  get attached(): boolean {
    return this.#source !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Takes lines from this source from now on; a previous source is let go (not closed). */
  attach(source: ConsoleLineSource): void {
    if (this.#closed) {
      void source.close();
      return;
    }
    this.#letGo();
    const onLine = (line: ConsoleLine): void => this.#record(line);
    const onClose = (): void => {
      if (this.#source === source) this.#letGo();
    };
    source.on('line', onLine);
    source.on('close', onClose);
    this.#source = source;
    this.#unsubscribe = () => {
      source.off('line', onLine);
      source.off('close', onClose);
    };
    this.emit('attached');
  }

  /** Lets go of the current source and closes it; the history stays. */
  async detach(): Promise<void> {
    const source = this.#source;
    this.#letGo();
    await source?.close();
  }

  mark(): number {
    return this.#nextSeq;
  }

  lines(since = 0): ConsoleLine[] {
    const first = this.#nextSeq - this.#lines.length;
    return this.#lines.slice(Math.max(0, since - first));
  }

  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    const describe = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.reject(cancelled(`console ${this.#name}: expecting ${describe}`, signal));
    const matches = matcherFor(pattern);
    const earlier = this.lines(options.since ?? this.#nextSeq).find((line) => matches(line.text));
    if (earlier) return Promise.resolve(earlier);
    if (this.#closed) return Promise.reject(new ConsoleError('infra-error', 'console-closed', `console ${this.#name} was closed`));
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        matches,
        resolve: (line) => (finish(), resolve(line)),
        fail: (error) => (finish(), reject(error)),
      };
      const onAbort = (): void => waiter.fail(cancelled(`console ${this.#name}: expecting ${describe}`, signal));
      const timer = setTimeout(() => {
        const lastLines = this.lines(this.#nextSeq - LINES_IN_TIMEOUT_MESSAGE).map((l) => l.text);
        const tail = lastLines.length ? lastLines.map((t) => `\n  | ${t}`).join('') : ' (none)';
        const where = this.attached ? '' : ' (the debug UART is not attached right now)';
        waiter.fail(new ConsoleError('timeout', 'console-expect-timeout', `console ${this.#name}: no line matching ${describe} within ${timeoutMs} ms${where}; last lines:${tail}`, { pattern: describe, timeoutMs, lastLines }));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new ConsoleError('infra-error', 'console-closed', `console ${this.#name} was closed`);
    for (const waiter of [...this.#waiters]) waiter.fail(error);
    await this.detach();
  }

  #letGo(): void {
    if (!this.#source) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#source = undefined;
    this.emit('detached');
  }

  #record(from: ConsoleLine): void {
    const line: ConsoleLine = { seq: this.#nextSeq, timestamp: from.timestamp, text: from.text };
    this.#nextSeq += 1;
    this.#lines.push(line);
    // Trim in chunks so a long run does not shift the array on every line.
    if (this.#lines.length > this.#maxLines + Math.max(1, this.#maxLines >> 4)) this.#lines = this.#lines.slice(-this.#maxLines);
    for (const waiter of [...this.#waiters]) if (waiter.matches(line.text)) waiter.resolve(line);
    this.emit('line', line);
  }
}

function matcherFor(pattern: RegExp | string): (text: string) => boolean {
  if (typeof pattern === 'string') return (text) => text.includes(pattern);
  const regex = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return (text) => regex.test(text);
}

function cancelled(what: string, signal: AbortSignal | undefined): ConsoleError {
  return new ConsoleError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: signal?.reason });
}
