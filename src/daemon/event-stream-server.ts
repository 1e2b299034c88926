import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type winston from 'winston';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { authorizeUpgrade, type Principal, type Role, type TokenVerifier } from './auth.js';
import type { EventBus, EventSubscription } from './event-bus.js';
import { errorAnswer, HttpError } from './http-errors.js';
import {
  CLOSE_GOING_AWAY,
  CLOSE_OVERFLOW,
  parseClientMessage,
  STREAM_PATH,
  subscriptionFromUrl,
  type StreamControlMessage,
  type SubscribeRequest,
} from './stream-protocol.js';
import { TopicMatcher } from './topic-pattern.js';

export interface EventStreamServerOptions {
  /** The daemon's HTTP server; the stream answers upgrades on `path`. */
  server: Server;
  bus: EventBus;
  /** Token checks; `null` turns authentication off (only for a loopback-only test set-up). */
  verifier: TokenVerifier | null;
  /** Default `/api/v1/stream`. */
  path?: string;
  /** Default viewer. */
  requiredRole?: Role;
  /** A live client with more than this waiting to be sent is dropped (overflow). Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Replay pauses while more than this waits to be sent. Default 512 KiB. */
  replayHighWaterBytes?: number;
  /** Default 30 s; a client silent for two intervals is dropped. */
  heartbeatIntervalMs?: number;
  /** Default 500. */
  maxClients?: number;
  /** Largest client message. Default 16 KiB. */
  maxMessageBytes?: number;
  /** How long a closing client may take to read its last messages. Default 5 s. */
  closeGraceMs?: number;
  logger?: winston.Logger;
}

export interface EventStreamStats {
  clients: number;
  /** Clients dropped for reading too slowly since start. */
  overflows: number;
  /** The most events any client is behind the head of the bus. */
  maxLagEvents: number;
}

interface StreamClient {
  id: number;
  ws: WebSocket;
  principal: Principal | null;
  subscription: EventSubscription | null;
  alive: boolean;
  closing: boolean;
  graceTimer: NodeJS.Timeout | undefined;
}

/**
 * The live event stream (protocol in stream-protocol.ts) on the daemon's HTTP
 * server. Each client has one bus subscription: replay paces itself by the
 * client's send buffer; once live, a client whose buffer passes the limit gets a
 * last `overflow` message with its resume point and is closed with 4008, so one
 * slow reader never holds memory or time from the daemon or other clients.
 */
export class EventStreamServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<StreamClient>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly logger: winston.Logger;
  private readonly settings: Required<Omit<EventStreamServerOptions, 'server' | 'bus' | 'verifier' | 'logger'>>;
  private readonly upgradeListener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private nextClientId = 1;
  private overflows = 0;
  private closed = false;

  constructor(private readonly options: EventStreamServerOptions) {
    this.logger = options.logger ?? componentLogger('event-stream');
    this.settings = {
      path: options.path ?? STREAM_PATH,
      requiredRole: options.requiredRole ?? 'viewer',
      maxBufferedBytes: options.maxBufferedBytes ?? 4 * 1024 * 1024,
      replayHighWaterBytes: options.replayHighWaterBytes ?? 512 * 1024,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
      maxClients: options.maxClients ?? 500,
      maxMessageBytes: options.maxMessageBytes ?? 16 * 1024,
      closeGraceMs: options.closeGraceMs ?? 5000,
    };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.settings.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
    this.upgradeListener = (req, socket, head) => this.onUpgrade(req, socket, head);
    options.server.on('upgrade', this.upgradeListener);
    this.heartbeat = setInterval(() => this.beat(), this.settings.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  stats(): EventStreamStats {
    let maxLagEvents = 0;
    const head = this.options.bus.lastSeq;
    for (const client of this.clients) if (client.subscription) maxLagEvents = Math.max(maxLagEvents, head - client.subscription.cursor);
    return { clients: this.clients.size, overflows: this.overflows, maxLagEvents };
  }

  /** Closes every client (1001) and stops answering upgrades. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.options.server.off('upgrade', this.upgradeListener);
    const gone = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once('close', () => resolve());
          this.closeClient(client, CLOSE_GOING_AWAY, 'daemon stopping');
        }),
    );
    await Promise.all(gone);
    this.wss.close();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A reset during the handshake must not become an uncaught error.
    socket.on('error', (error) => this.logger.debug('stream socket error before upgrade', { error: error.message }));
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      this.refuse(socket, new HttpError(400, 'bad-request', 'the request URL does not parse'));
      return;
    }
    if (pathname !== this.settings.path) {
      // Another upgrade handler may own this path; answer only if there is none.
      if (this.options.server.listenerCount('upgrade') === 1) this.refuse(socket, new HttpError(404, 'not-found', `no WebSocket endpoint at ${pathname}`));
      return;
    }
    if (this.closed) return this.refuse(socket, new HttpError(503, 'stopping', 'the daemon is stopping'));
    if (this.clients.size >= this.settings.maxClients) return this.refuse(socket, new HttpError(503, 'too-many-clients', `at most ${this.settings.maxClients} stream clients`));
    let principal: Principal | null = null;
    try {
      if (this.options.verifier) principal = authorizeUpgrade(this.options.verifier, req, this.settings.requiredRole);
    } catch (error) {
      return this.refuse(socket, error);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, principal));
  }

  /** Answers a refused upgrade with an HTTP error in JSON and closes the socket. */
  private refuse(socket: Duplex, error: unknown): void {
    const { status, body, headers } = errorAnswer(error);
    const text = JSON.stringify(body);
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(text)}`,
      'Connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`, () => socket.destroy());
  }

  private accept(ws: WebSocket, req: IncomingMessage, principal: Principal | null): void {
    const client: StreamClient = { id: this.nextClientId++, ws, principal, subscription: null, alive: true, closing: false, graceTimer: undefined };
    this.clients.add(client);
    this.logger.debug('stream client connected', { client: client.id, token: principal?.name });
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (error) => this.logger.debug('stream client error', { client: client.id, error: error.message }));
    ws.on('close', () => this.forget(client));
    try {
      const request = subscriptionFromUrl(req.url);
      if (request) this.subscribe(client, request);
    } catch (error) {
      this.sendError(client, error);
    }
  }

  private onMessage(client: StreamClient, data: RawData, isBinary: boolean): void {
    client.alive = true;
    if (client.closing) return;
    try {
      if (isBinary) throw new HttpError(400, 'bad-message', 'send JSON text messages, not binary');
      this.subscribe(client, parseClientMessage(rawText(data)));
    } catch (error) {
      this.sendError(client, error);
    }
  }

  private subscribe(client: StreamClient, request: SubscribeRequest): void {
    const matcher = new TopicMatcher(request.subscribe);
    const previous = client.subscription;
    // Leaving out `since` on a new subscription continues where the previous one was.
    const since = request.since !== undefined ? request.since : previous ? previous.cursor : null;
    previous?.close();
    client.subscription = null;
    this.sendControl(client, { type: 'subscribed', patterns: [...matcher.patterns], since, latestSeq: this.options.bus.lastSeq });
    const { ws } = client;
    client.subscription = this.options.bus.subscribe({
      patterns: matcher.patterns,
      since,
      onEvent: (_event, json) => this.sendEvent(client, json),
      onLive: (cursor) => this.sendControl(client, { type: 'live', seq: cursor }),
      onMissed: (through) => this.sendControl(client, { type: 'missed', through }),
      ready: () => ws.bufferedAmount < this.settings.replayHighWaterBytes,
    });
  }

  private sendEvent(client: StreamClient, json: string): void {
    if (client.closing) return;
    client.ws.send(json);
    // Replay paces itself; a live client that cannot keep up is dropped.
    if (client.subscription?.live && client.ws.bufferedAmount > this.settings.maxBufferedBytes) this.overflow(client);
  }

  private overflow(client: StreamClient): void {
    const resumeFrom = client.subscription?.cursor ?? 0;
    this.overflows++;
    this.logger.warn('stream client too slow; disconnecting', { client: client.id, resumeFrom, buffered: client.ws.bufferedAmount });
    this.sendControl(client, { type: 'overflow', resumeFrom });
    this.closeClient(client, CLOSE_OVERFLOW, 'overflow');
  }

  private sendControl(client: StreamClient, message: StreamControlMessage): void {
    if (client.closing) return;
    client.ws.send(JSON.stringify(message));
  }

  private sendError(client: StreamClient, error: unknown): void {
    if (!(error instanceof RigError)) this.logger.error('stream client message failed', { client: client.id, error: (error as Error)?.stack ?? String(error) });
    const { body } = errorAnswer(error);
    this.sendControl(client, { type: 'error', code: body.error.code, message: body.error.message });
  }

  /** Stops the client's events now; the socket gets `closeGraceMs` to flush before it is cut. */
  private closeClient(client: StreamClient, code: number, reason: string): void {
    if (client.closing) return;
    client.closing = true;
    client.subscription?.close();
    client.ws.close(code, reason);
    client.graceTimer = setTimeout(() => client.ws.terminate(), this.settings.closeGraceMs);
    client.graceTimer.unref();
  }

  private forget(client: StreamClient): void {
    client.closing = true;
    client.subscription?.close();
    if (client.graceTimer) clearTimeout(client.graceTimer);
    this.clients.delete(client);
    this.logger.debug('stream client gone', { client: client.id });
  }

  private beat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.logger.info('stream client did not answer the heartbeat; dropping it', { client: client.id });
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      try {
        client.ws.ping();
      } catch {
        client.ws.terminate();
      }
    }
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
