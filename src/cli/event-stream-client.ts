import WebSocket from 'ws';
import type { DaemonEvent } from '../daemon/daemon-event.js';
import type { DaemonConnection } from './daemon-connection.js';

/** A daemon event as it arrives: the daemon's own shape, its payload read as plain JSON (the CLI checks what it uses). */
export type StreamEvent = Omit<DaemonEvent, 'type' | 'payload'> & { type: string; payload: Record<string, unknown> };

/**
 * A client of the daemon's event stream that never loses its place: it keeps
 * the last sequence number seen and, when the connection drops (daemon restart,
 * overflow), reconnects with `since` so every event arrives exactly once.
 */
export class EventStreamClient {
  #socket: WebSocket | undefined;
  #lastSeq: number | null = null;
  #closed = false;
  #liveResolve: (() => void) | undefined;
  #retryMs = 250;

  constructor(
    private readonly connection: DaemonConnection,
    private readonly patterns: string[],
    private readonly onEvent: (event: StreamEvent) => void,
    private readonly onStatus: (status: 'live' | 'reconnecting' | 'missed' | 'error', detail?: unknown) => void = () => undefined,
  ) {}

  /** Connects; resolves once replay is done and events arrive live. */
  start(since: number | null = null): Promise<void> {
    this.#lastSeq = since;
    return new Promise((resolve) => {
      this.#liveResolve = resolve;
      this.#connect();
    });
  }

  get lastSeq(): number | null {
    return this.#lastSeq;
  }

  close(): void {
    this.#closed = true;
    this.#socket?.close();
  }

  #connect(): void {
    if (this.#closed) return;
    const url = new URL(`${this.connection.url.replace(/^http/, 'ws')}/api/v1/stream`);
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.connection.token}` } });
    this.#socket = socket;
    socket.on('open', () => {
      this.#retryMs = 250;
      socket.send(JSON.stringify({ subscribe: this.patterns, since: this.#lastSeq }));
    });
    socket.on('message', (data) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof message.seq === 'number' && 'topic' in message) {
        if (this.#lastSeq !== null && message.seq <= this.#lastSeq) return;
        this.#lastSeq = message.seq;
        this.onEvent(message as unknown as StreamEvent);
      } else if (message.type === 'live') {
        if (this.#lastSeq === null && typeof message.seq === 'number') this.#lastSeq = message.seq;
        this.onStatus('live');
        this.#liveResolve?.();
        this.#liveResolve = undefined;
      } else if (message.type === 'missed') {
        this.onStatus('missed', message.through);
      } else if (message.type === 'error') {
        // The daemon refused what we sent; say so instead of throwing inside the socket's handler.
        this.onStatus('error', `${String(message.code)}: ${String(message.message)}`);
      }
    });
    socket.on('close', () => {
      if (this.#closed) return;
      this.onStatus('reconnecting');
      setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
    });
    socket.on('error', () => undefined);
  }
}
