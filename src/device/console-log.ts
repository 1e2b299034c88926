import { ReadlineParser } from '@serialport/parser-readline';
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { componentLogger } from '../util/logger.js';
import { ConsoleError, ConsoleHistory, consoleCancelled, type ConsoleExpectOptions, type ConsoleLine } from './console-history.js';

const log = componentLogger('console-log');

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

/**
 * A board's debug console as the host sees it: every line, timestamped and
 * numbered, kept (bounded) for the report, with `expect` for scenarios (after
 * pytest-embedded). Works on any serial device path.
 */
export class ConsoleLog extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  readonly path: string;
  readonly name: string;
  private readonly port: SerialPort;
  private readonly history: ConsoleHistory;

  /** Opens the port; resolves once it is open and lines are being recorded. */
  static async open(options: ConsoleLogOptions): Promise<ConsoleLog> {
    const name = options.name ?? options.path;
    const timeoutMs = options.openTimeoutMs ?? 5000;
    // Made before the port is opened, so a bad maxLines is refused with nothing to close.
    const history = new ConsoleHistory(name, { maxLines: options.maxLines ?? 100_000 });
    const signal = options.signal;
    if (signal?.aborted) throw consoleCancelled(`opening console ${name}`, signal);
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
      const onAbort = (): void => abandon(consoleCancelled(`opening console ${name}`, signal));
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
    return new ConsoleLog(options.path, name, port, history, options.presenceCheckMs ?? 1000);
  }

  private constructor(path: string, name: string, port: SerialPort, history: ConsoleHistory, presenceCheckMs: number) {
    super();
    this.path = path;
    this.name = name;
    this.port = port;
    this.history = history;
    const parser = port.pipe(new ReadlineParser({ delimiter: '\n', encoding: 'utf8' }));
    parser.on('data', (text: string) => this.record(text));
    port.on('error', (error) => log.warn('console port error', { console: name, error: error.message }));
    port.on('close', () => this.shutDown(new ConsoleError('infra-error', 'console-closed', `console ${name}: ${path} closed`)));
    if (presenceCheckMs > 0) this.watchPresence(presenceCheckMs);
  }

  /** The sequence number the next line will get: pass it as `since`. */
  mark(): number {
    return this.history.mark();
  }

  /** Lines dropped because more than maxLines arrived. */
  get droppedLines(): number {
    return this.history.droppedLines;
  }

  get closed(): boolean {
    return this.history.closed;
  }

  /** The kept lines with seq >= since, oldest first. */
  lines(since = 0): ConsoleLine[] {
    return this.history.lines(since);
  }

  /** Resolves with the first line at or after `since` that matches; a string matches as a substring. */
  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    return this.history.expect(pattern, options);
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
    const line = this.history.record(rawText.endsWith('\r') ? rawText.slice(0, -1) : rawText, Date.now());
    this.emit('line', line);
  }

  private shutDown(error: ConsoleError): void {
    if (this.history.close(error)) this.emit('close');
  }
}
