import WebSocket from 'ws';
import { RigError } from '../util/failure.js';
import type { DaemonEvent } from '../daemon/daemon-event.js';
import type { DaemonConnection } from './daemon-connection.js';

/** A daemon event as it arrives: the daemon's own shape, its payload read as plain JSON (the CLI checks what it uses). */
export type StreamEvent = Omit<DaemonEvent, 'type' | 'payload'> & { type: string; payload: Record<string, unknown> };

const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A client of the daemon's event stream that never loses its place: it keeps
 * the last sequence number seen and, when the connection drops (daemon restart,
 * overflow), reconnects with `since` so every event arrives exactly once.
 */
/** Close codes after which reconnecting is pointless (see src/daemon/stream-protocol.ts). */
const CLOSE_TOKEN_REVOKED = 4001;
const CLOSE_POLICY = 1008;

export class EventStreamClient {
  #socket: WebSocket | undefined;
  #lastSeq: number | null = null;
  #closed = false;
  #liveResolve: (() => void) | undefined;
  #liveReject: ((error: RigError) => void) | undefined;
  /** Why the last connection failed, for the error of a first connection that never went live. */
  #lastFailure = '';
  #retryMs = 250;

  constructor(
    private readonly connection: DaemonConnection,
    private readonly patterns: string[],
    private readonly onEvent: (event: StreamEvent) => void,
    private readonly onStatus: (status: 'live' | 'reconnecting' | 'missed' | 'error', detail?: unknown) => void = () => undefined,
  ) {
    let end: (error: RigError) => void = () => undefined;
    this.ended = new Promise<never>((_resolve, reject) => (end = reject));
    // Nobody need listen: an unheard end must not be an unhandled rejection.
    this.ended.catch(() => undefined);
    this.#end = (error) => end(error);
  }

  #end: (error: RigError) => void;

  /**
   * Connects; resolves once replay is done and events arrive live. Rejects if
   * the first connection fails (no daemon, a refused token): only a connection
   * that once went live is retried, for ever (a daemon restart mid-run).
   */
  start(since: number | null = null): Promise<void> {
    this.#lastSeq = since;
    return new Promise((resolve, reject) => {
      this.#liveResolve = resolve;
      this.#liveReject = reject;
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

  /**
   * Rejects when the daemon ends the stream for good: it revoked the token (4001)
   * or closed it for breaking its limits (1008); retrying would only be refused.
   */
  readonly ended: Promise<never>;

  #connect(): void {
    if (this.#closed) return;
    const url = new URL(`${this.connection.url.replace(/^http/, 'ws')}/api/v1/stream`);
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.connection.token}` }, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
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
        this.#liveReject = undefined;
      } else if (message.type === 'missed') {
        this.onStatus('missed', message.through);
      } else if (message.type === 'error') {
        // The daemon refused what we sent; say so instead of throwing inside the socket's handler.
        this.onStatus('error', `${String(message.code)}: ${String(message.message)}`);
      }
    });
    socket.on('close', (code, reason) => {
      if (this.#closed) return;
      if (code === CLOSE_TOKEN_REVOKED || code === CLOSE_POLICY) {
        this.#closed = true;
        const why = reason.toString() || (code === CLOSE_TOKEN_REVOKED ? 'token revoked' : 'policy violation');
        const error =
          code === CLOSE_TOKEN_REVOKED
            ? new RigError('infra-error', 'stream-refused', `the daemon at ${this.connection.url} ended the event stream: ${why} (close ${code})`, { status: 401 })
            : new RigError('infra-error', 'stream-closed', `the daemon at ${this.connection.url} ended the event stream: ${why} (close ${code})`);
        this.#liveReject?.(error);
        this.#end(error);
        return;
      }
      if (this.#liveReject) {
        const status = /Unexpected server response: (\d+)/.exec(this.#lastFailure)?.[1];
        this.#liveReject(
          status === '401' || status === '403'
            ? new RigError('infra-error', 'stream-refused', `the daemon at ${this.connection.url} refused the token for its event stream (HTTP ${status})`, { status: Number(status) })
            : new RigError('infra-error', 'daemon-unreachable', `cannot reach the daemon at ${this.connection.url}: ${this.#lastFailure || 'the event stream closed'}`),
        );
        this.#closed = true;
        return;
      }
      this.onStatus('reconnecting');
      setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
    });
    // 'close' follows; a refused token shows here as "Unexpected server response: 401".
    socket.on('error', (error) => (this.#lastFailure = error.message));
  }
}
