import { ReadlineParser } from '@serialport/parser-readline';
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { RigError, type FailureClass } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('console-log');

/** One line of a board's debug console, as received by the host. */
export interface ConsoleLine {
  /** 1, 2, 3... in arrival order; never reused, even after old lines are dropped. */
  seq: number;
  /** Arrival time, ms since the epoch. */
  timestamp: number;
  /** The line without its "\n" or "\r\n". */
  text: string;
}

export interface ConsoleLogOptions {
  /** Serial device path: /dev/ttyUSBn of a real board, or an emulated UART's pty. */
  path: string;
  baudRate?: number;
  /** Lines kept; older ones are dropped and counted. Default 100,000. */
  maxLines?: number;
  /** For logs and error messages. Default: the path. */
  name?: string;
  openTimeoutMs?: number;
  signal?: AbortSignal;
  /** How often to check that the device path still exists (see `watchPresence`). Default 1000 ms; 0 turns it off. */
  presenceCheckMs?: number;
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
}

export class ConsoleError extends RigError {
  constructor(failureClass: FailureClass, code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClass, code, message, details, options);
  }
}

interface Waiter {
  matches: (line: ConsoleLine) => boolean;
  resolve: (line: ConsoleLine) => void;
  fail: (error: ConsoleError) => void;
}

const LINES_IN_TIMEOUT_MESSAGE = 5;

/**
 * A board's debug console as the host sees it: every line, timestamped and
 * numbered, kept (bounded) for the report, with `expect` for scenarios (after
 * pytest-embedded). Works on any serial device path.
 */
export class ConsoleLog extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  readonly path: string;
  readonly name: string;
  private readonly port: SerialPort;
  private readonly maxLines: number;
  private readonly ring: Array<ConsoleLine | undefined>;
  private ringStart = 0;
  private ringCount = 0;
  private nextSeq = 1;
  private dropped = 0;
  private readonly waiters = new Set<Waiter>();
  private closedError: ConsoleError | undefined;

  /** Opens the port; resolves once it is open and lines are being recorded. */
  static async open(options: ConsoleLogOptions): Promise<ConsoleLog> {
    const name = options.name ?? options.path;
    const timeoutMs = options.openTimeoutMs ?? 5000;
    const maxLines = options.maxLines ?? 100_000;
    if (!Number.isInteger(maxLines) || maxLines < 1) {
      throw new ConsoleError('infra-error', 'invalid-max-lines', `console ${name}: maxLines must be a positive integer, got ${maxLines}`);
    }
    const signal = options.signal;
    if (signal?.aborted) throw cancelled(`opening console ${name}`, signal);
    const port = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: ConsoleError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      // The open itself cannot be interrupted; a late success is closed again.
      const abandon = (error: ConsoleError): void => {
        settle(error);
        if (port.isOpen) port.close();
      };
      const onAbort = (): void => abandon(cancelled(`opening console ${name}`, signal));
      const timer = setTimeout(
        () => abandon(new ConsoleError('timeout', 'console-open-timeout', `console ${name}: ${options.path} did not open within ${timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      port.open((error) => {
        if (settled) {
          if (!error) port.close();
          return;
        }
        if (error) {
          settle(new ConsoleError('infra-error', 'console-open-failed', `console ${name}: cannot open ${options.path}: ${error.message}`, {}, { cause: error }));
        } else {
          settle();
        }
      });
    });
    return new ConsoleLog(options.path, name, port, maxLines, options.presenceCheckMs ?? 1000);
  }

  private constructor(path: string, name: string, port: SerialPort, maxLines: number, presenceCheckMs: number) {
    super();
    this.path = path;
    this.name = name;
    this.port = port;
    this.maxLines = maxLines;
    this.ring = new Array<ConsoleLine | undefined>(Math.min(maxLines, 1024));
    const parser = port.pipe(new ReadlineParser({ delimiter: '\n', encoding: 'utf8' }));
    parser.on('data', (text: string) => this.record(text));
    port.on('error', (error) => log.warn('console port error', { console: name, error: error.message }));
    port.on('close', () => this.shutDown(new ConsoleError('infra-error', 'console-closed', `console ${name}: ${path} closed`)));
    if (presenceCheckMs > 0) this.watchPresence(presenceCheckMs);
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

  /** Resolves with the first line at or after `since` that matches; a string matches as a substring. */
  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    const { timeoutMs, signal } = options;
    const describe = describePattern(pattern);
    if (signal?.aborted) return Promise.reject(cancelled(`console ${this.name}: expecting ${describe}`, signal));
    const matches = matcherFor(pattern);
    const earlier = this.lines(options.since ?? this.nextSeq).find((line) => matches(line.text));
    if (earlier) return Promise.resolve(earlier);
    if (this.closedError) return Promise.reject(this.closedError);

    return new Promise((resolve, reject) => {
      const finish = (): void => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        matches: (line) => matches(line.text),
        resolve: (line) => {
          finish();
          resolve(line);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(cancelled(`console ${this.name}: expecting ${describe}`, signal));
      const timer = setTimeout(() => {
        const lastLines = this.lines(this.nextSeq - LINES_IN_TIMEOUT_MESSAGE).map((line) => line.text);
        const tail = lastLines.length ? lastLines.map((text) => `\n  | ${text}`).join('') : ' (none)';
        waiter.fail(
          new ConsoleError('timeout', 'console-expect-timeout', `console ${this.name}: no line matching ${describe} within ${timeoutMs} ms; last lines:${tail}`, {
            pattern: describe,
            timeoutMs,
            lastLines,
          }),
        );
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Closes the port; pending expects reject with 'console-closed'. Idempotent. */
  async close(): Promise<void> {
    this.shutDown(new ConsoleError('infra-error', 'console-closed', `console ${this.name} was closed`));
    if (this.port.isOpen) {
      await new Promise<void>((resolve) =>
        this.port.close((error) => {
          if (error) log.warn('closing console port failed', { console: this.name, error: error.message });
          resolve();
        }),
      );
    }
  }

  /**
   * When a device goes away (adapter unplugged, emulator UART closed) the kernel
   * hangs the tty up and read() returns 0 for ever; @serialport/bindings-cpp 13
   * retries a 0-byte read at once (its unix-read recursion), so the port never
   * reports the loss and spins a CPU. The device path vanishing is what we can
   * see through public APIs, so we look for it and close the port ourselves.
   */
  private watchPresence(intervalMs: number): void {
    const timer = setInterval(() => {
      stat(this.path).catch(() => {
        if (this.closed) return;
        log.warn('console device went away', { console: this.name, path: this.path });
        this.shutDown(new ConsoleError('infra-error', 'console-device-gone', `console ${this.name}: ${this.path} went away`));
        if (this.port.isOpen) this.port.close();
      });
    }, intervalMs);
    timer.unref();
    this.once('close', () => clearInterval(timer));
  }

  private record(rawText: string): void {
    const line: ConsoleLine = { seq: this.nextSeq, timestamp: Date.now(), text: rawText.endsWith('\r') ? rawText.slice(0, -1) : rawText };
    this.store(line);
    this.nextSeq += 1;
    for (const waiter of [...this.waiters]) if (waiter.matches(line)) waiter.resolve(line);
    this.emit('line', line);
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

  private shutDown(error: ConsoleError): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const waiter of [...this.waiters]) waiter.fail(error);
    this.emit('close');
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

function cancelled(what: string, signal: AbortSignal | undefined): ConsoleError {
  return new ConsoleError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: signal?.reason });
}
