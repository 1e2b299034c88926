import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ConsoleLine } from './console-history.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('tcp-line-source');

export interface TcpLineSourceOptions {
  host: string;
  port: number;
  /** For logs. */
  name: string;
  /** Longest line kept whole; a longer one is cut there (a stream with no newline cannot grow memory). */
  maxLineBytes?: number;
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 2_000;
/** A device that does not answer a connect at all (no RST) would otherwise hold one attempt for the OS's minutes. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Lines from a TCP port that comes and goes with the board: a debugged app's
 * output port is gone while the board resets and back once it runs again, so
 * the source reconnects (200 ms, doubling to 2 s) until it is closed.
 */
export class TcpLineSource extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  #seq = 0;
  #socket: Socket | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #partial = '';
  #closed = false;
  readonly #maxLineBytes: number;

  constructor(private readonly options: TcpLineSourceOptions) {
    super();
    this.#maxLineBytes = options.maxLineBytes ?? 64 * 1024;
    this.#connect();
  }

  /** Stops reading and reconnecting for good. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.destroy();
    this.emit('close');
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = connect({ host: this.options.host, port: this.options.port });
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy());
    socket.on('connect', () => {
      // Connected: an output port may stay silent for hours, which is no reason to hang up.
      socket.setTimeout(0);
      this.#retryMs = RETRY_MIN_MS;
      log.debug('connected', { source: this.options.name });
    });
    socket.on('data', (chunk: string) => this.#take(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      if (this.#partial) this.#emitLine(this.#partial);
      this.#partial = '';
      if (this.#closed) return;
      this.#retry = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retry.unref();
      this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
    });
  }

  #take(chunk: string): void {
    let text = this.#partial + chunk;
    let newline = text.indexOf('\n');
    while (newline >= 0) {
      this.#emitLine(text.slice(0, newline));
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    while (text.length > this.#maxLineBytes) {
      this.#emitLine(text.slice(0, this.#maxLineBytes));
      text = text.slice(this.#maxLineBytes);
    }
    this.#partial = text;
  }

  #emitLine(raw: string): void {
    this.#seq += 1;
    this.emit('line', { seq: this.#seq, timestamp: Date.now(), text: raw.endsWith('\r') ? raw.slice(0, -1) : raw });
  }
}
