import { EventEmitter } from 'node:events';
import type { BoardConsole } from './board.js';
import { ConsoleError, ConsoleHistory, type ConsoleExpectOptions, type ConsoleLine } from './console-history.js';
import { ConsoleLog } from './console-log.js';
import { TcpLineSource } from './tcp-line-source.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('board-console');

/** Lines a source keeps itself: the board console holds the history, so little. */
const SOURCE_LINES = 256;

interface SerialSource {
  kind: 'serial';
  path: string;
  baudRate: number;
  port: ConsoleLog | undefined;
}

interface TcpSource {
  kind: 'tcp';
  source: TcpLineSource;
}

/**
 * Every output of one board the host reads, merged into one numbered history
 * with each line tagged by its channel (console-channel.ts): its UARTs as
 * serial ports, a debugged app's output port over TCP, and on an emulated
 * board the emulator-only trace. Steps expect on chosen channels; the run
 * record and the dashboard show them all, each named.
 *
 * A serial channel can be suspended while something else needs the port to
 * itself (a recovery owns the recovery UART) and resumed after.
 */
export class BoardConsoleLog extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> implements BoardConsole {
  readonly #history: ConsoleHistory;
  readonly #sources = new Map<string, SerialSource | TcpSource>();

  constructor(readonly name: string, options: { maxLines?: number } = {}) {
    super();
    this.#history = new ConsoleHistory(name, { maxLines: options.maxLines ?? 100_000 });
  }

  /** Opens a serial port (a board's UART, or an emulator's pty) as one channel. */
  async addSerial(channel: string, path: string, options: { baudRate?: number; signal?: AbortSignal } = {}): Promise<void> {
    const source: SerialSource = { kind: 'serial', path, baudRate: options.baudRate ?? 115200, port: undefined };
    this.#sources.set(channel, source);
    await this.#open(channel, source, options.signal);
  }

  /** Reads lines from a TCP port that comes and goes with the board (reconnecting). */
  addTcp(channel: string, host: string, port: number): void {
    const source = new TcpLineSource({ host, port, name: `${this.name}/${channel}` });
    source.on('line', (line) => this.#record(channel, line.text, line.timestamp));
    this.#sources.set(channel, { kind: 'tcp', source });
  }

  /** The channels this board has. */
  channels(): string[] {
    return [...this.#sources.keys()];
  }

  /** Closes a serial channel's port so another user can have it; its lines stop until `resume`. */
  async suspend(channel: string): Promise<void> {
    const source = this.#sources.get(channel);
    if (source?.kind !== 'serial' || !source.port) return;
    const port = source.port;
    source.port = undefined;
    await port.close();
  }

  /** Reopens a suspended serial channel. A failure is logged: the console goes on without it. */
  async resume(channel: string, signal?: AbortSignal): Promise<void> {
    const source = this.#sources.get(channel);
    if (source?.kind !== 'serial' || source.port || this.closed) return;
    await this.#open(channel, source, signal).catch((error: unknown) =>
      log.warn('console channel not reopened', { console: this.name, channel, error: (error as Error).message }),
    );
  }

  mark(): number {
    return this.#history.mark();
  }

  lines(since = 0): ConsoleLine[] {
    return this.#history.lines(since);
  }

  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    return this.#history.expect(pattern, options);
  }

  get droppedLines(): number {
    return this.#history.droppedLines;
  }

  get closed(): boolean {
    return this.#history.closed;
  }

  /** Closes every source; pending expects reject with 'console-closed'. Idempotent. */
  async close(): Promise<void> {
    this.#shutDown(new ConsoleError('infra-error', 'console-closed', `console ${this.name} was closed`));
    await Promise.allSettled(
      [...this.#sources.values()].map(async (source) => {
        if (source.kind === 'tcp') await source.source.close();
        else {
          const port = source.port;
          source.port = undefined;
          await port?.close();
        }
      }),
    );
  }

  async #open(channel: string, source: SerialSource, signal?: AbortSignal): Promise<void> {
    const port = await ConsoleLog.open({ path: source.path, baudRate: source.baudRate, name: `${this.name}/${channel}`, maxLines: SOURCE_LINES, signal });
    source.port = port;
    port.on('line', (line) => this.#record(channel, line.text, line.timestamp));
    port.on('close', () => {
      // Closed by suspend() or close(): expected. Otherwise the device went away (emulator stopped, adapter unplugged).
      if (source.port !== port) return;
      source.port = undefined;
      this.#shutDown(new ConsoleError('infra-error', 'console-closed', `console ${this.name}: ${channel} (${source.path}) closed`));
    });
  }

  #record(channel: string, text: string, timestamp: number): void {
    if (this.closed) return;
    this.emit('line', this.#history.record(text, timestamp, channel));
  }

  #shutDown(error: ConsoleError): void {
    if (this.#history.close(error)) {
      for (const source of this.#sources.values()) if (source.kind === 'tcp') void source.source.close();
      this.emit('close');
    }
  }
}
