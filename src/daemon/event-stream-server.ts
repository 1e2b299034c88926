import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type winston from 'winston';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { authorizeUpgrade, type Principal, type Role, type TokenVerifier } from './auth.js';
import type { EventBus, EventSubscription } from './event-bus.js';
import { hostRefusal } from './host-check.js';
import { errorAnswer, HttpError } from './http-errors.js';
import {
  CLOSE_GOING_AWAY,
  CLOSE_OVERFLOW,
  CLOSE_RATE_LIMIT,
  CLOSE_TOKEN_REVOKED,
  parseClientMessage,
  STREAM_CLOSE_REASONS,
  STREAM_PATH,
  subscriptionFromUrl,
  type StreamCloseReason,
  type StreamControlMessage,
  type SubscribeRequest,
} from './stream-protocol.js';
import { TopicMatcher } from './topic-pattern.js';

/** Something that announces revoked tokens; `ApiTokenStore` is one. */
export interface TokenRevocations {
  on(event: 'revoked', listener: (tokenId: string) => void): unknown;
  off(event: 'revoked', listener: (tokenId: string) => void): unknown;
}

export interface EventStreamServerOptions {
  /** The daemon's HTTP server; the stream answers upgrades on `path`. */
  server: Server;
  bus: EventBus;
  /** Token checks; `null` turns authentication off (only for a loopback-only test set-up). */
  verifier: TokenVerifier | null;
  /**
   * Closes (4001) the streams opened with a token once it is revoked. Default:
   * the verifier, when it announces revocations (`ApiTokenStore` does).
   */
  revocations?: TokenRevocations;
  /** Default `/api/v1/stream`. */
  path?: string;
  /** Default viewer. */
  requiredRole?: Role;
  /**
   * The bound of each client's send queue (bytes handed to the socket and not yet
   * flushed). A message that would take it past the bound drops the client
   * instead (overflow, 4008). Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /** Replay pauses while more than this waits to be sent. Default 512 KiB. */
  replayHighWaterBytes?: number;
  /** Default 30 s; a client that has not answered a ping by the next one is dropped. */
  heartbeatIntervalMs?: number;
  /** Default 500. */
  maxClients?: number;
  /** Largest client message. Default 16 KiB. */
  maxMessageBytes?: number;
  /** How long a closing client may take to read its last messages. Default 5 s. */
  closeGraceMs?: number;
  /** Messages (pings and pongs included) a client may send per second, sustained. Default 20. */
  maxMessagesPerSecond?: number;
  /** Messages a client may send at once above the sustained rate. Default 100. */
  messageBurst?: number;
  /** Bytes a client may send per second, sustained. Default 64 KiB. */
  maxBytesPerSecond?: number;
  /** Bytes a client may send at once above the sustained rate. Default 256 KiB. */
  byteBurst?: number;
  logger?: winston.Logger;
}

export interface EventStreamStats {
  clients: number;
  /** Clients dropped for reading too slowly since start. */
  overflows: number;
  /** The most events any client is behind the head of the bus. */
  maxLagEvents: number;
  /** Clients the server closed since start, by reason. */
  closed: Record<StreamCloseReason, number>;
  /** The longest send queue of any client now, in bytes. */
  maxQueuedBytes: number;
}

interface StreamClient {
  id: number;
  ws: WebSocket;
  /** The connection under `ws`: its incoming bytes are counted, and it is ended when the daemon stops listening to the client. */
  socket: Duplex;
  principal: Principal | null;
  subscription: EventSubscription | null;
  /** Every matching event up to here was sent (the resume point while no subscription has a cursor). */
  position: number;
  /** Payload of the last ping, until the pong that echoes it arrives. */
  awaitedPong: Buffer | null;
  messages: TokenBucket;
  bytes: TokenBucket;
  closing: boolean;
  /** Nothing more is read from it: it broke the rate limits. */
  muted: boolean;
  graceTimer: NodeJS.Timeout | undefined;
}

/**
 * The live event stream (protocol in stream-protocol.ts) on the daemon's HTTP
 * server. Each client has one bus subscription: replay paces itself by the
 * client's send queue, and every message to a client (events, control messages,
 * replies to bad messages) goes through one bound on that queue: a message that
 * would pass it is not queued; the client gets a last `overflow` message with
 * its resume point and is closed with 4008. What a client sends is rate-limited,
 * and a client is alive only while it answers pings, which it can do only by
 * reading what was sent before them. So one slow, stuck or abusive client never
 * holds memory or time from the daemon or other clients.
 */
export class EventStreamServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<StreamClient>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly logger: winston.Logger;
  private readonly settings: Required<Omit<EventStreamServerOptions, 'server' | 'bus' | 'verifier' | 'revocations' | 'logger'>>;
  private readonly upgradeListener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private readonly revocations: TokenRevocations | undefined;
  private readonly revokedListener = (tokenId: string): void => this.onRevoked(tokenId);
  private readonly closedCounts = Object.fromEntries(STREAM_CLOSE_REASONS.map((reason) => [reason, 0])) as Record<StreamCloseReason, number>;
  private nextClientId = 1;
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
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? 20,
      messageBurst: options.messageBurst ?? 100,
      maxBytesPerSecond: options.maxBytesPerSecond ?? 64 * 1024,
      byteBurst: options.byteBurst ?? 256 * 1024,
    };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.settings.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // One client message per turn of the event loop: a chunk of thousands of tiny frames never holds the loop
      // (HTTP requests, other clients) while it is parsed, and nothing after a rate-limit close is acted on.
      allowSynchronousEvents: false,
    });
    this.upgradeListener = (req, socket, head) => this.onUpgrade(req, socket, head);
    options.server.on('upgrade', this.upgradeListener);
    this.revocations = options.revocations ?? (announcesRevocations(options.verifier) ? options.verifier : undefined);
    this.revocations?.on('revoked', this.revokedListener);
    this.heartbeat = setInterval(() => this.beat(), this.settings.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  stats(): EventStreamStats {
    let maxLagEvents = 0;
    let maxQueuedBytes = 0;
    const head = this.options.bus.lastSeq;
    for (const client of this.clients) {
      if (client.subscription) maxLagEvents = Math.max(maxLagEvents, head - client.subscription.cursor);
      maxQueuedBytes = Math.max(maxQueuedBytes, client.ws.bufferedAmount);
    }
    return { clients: this.clients.size, overflows: this.closedCounts.overflow, maxLagEvents, closed: { ...this.closedCounts }, maxQueuedBytes };
  }

  /** Closes every client (1001) and stops answering upgrades. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.options.server.off('upgrade', this.upgradeListener);
    this.revocations?.off('revoked', this.revokedListener);
    const gone = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once('close', () => resolve());
          // A client no longer read from would only answer at the end of its grace.
          if (client.muted) client.ws.terminate();
          else this.closeClient(client, CLOSE_GOING_AWAY, 'daemon stopping');
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
    // A name that points at this machine (DNS rebinding) is not this daemon's name.
    const wrongHost = hostRefusal(req.headers.host);
    if (wrongHost) return this.refuse(socket, wrongHost);
    // A web page elsewhere must not read the stream through the browser of someone on this machine.
    const origin = req.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, req.headers.host)) {
      // Not a warning: a page can try this in a loop, and the log must not grow with it.
      this.logger.debug('stream upgrade from another origin refused', { origin: origin.slice(0, 200), host: req.headers.host?.slice(0, 200) });
      return this.refuse(
        socket,
        new HttpError(403, 'forbidden-origin', `WebSocket connections from the web origin ${JSON.stringify(origin.slice(0, 200))} are not allowed; only from the daemon's own origin`),
      );
    }
    if (this.closed) return this.refuse(socket, new HttpError(503, 'stopping', 'the daemon is stopping'));
    if (this.clients.size >= this.settings.maxClients) return this.refuse(socket, new HttpError(503, 'too-many-clients', `at most ${this.settings.maxClients} stream clients`));
    let principal: Principal | null = null;
    try {
      if (this.options.verifier) principal = authorizeUpgrade(this.options.verifier, req, this.settings.requiredRole);
    } catch (error) {
      return this.refuse(socket, error);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, req, principal));
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

  private accept(ws: WebSocket, socket: Duplex, req: IncomingMessage, principal: Principal | null): void {
    const now = performance.now();
    const client: StreamClient = {
      id: this.nextClientId++,
      ws,
      socket,
      principal,
      subscription: null,
      position: this.options.bus.lastSeq,
      awaitedPong: null,
      messages: new TokenBucket(this.settings.maxMessagesPerSecond, this.settings.messageBurst, now),
      bytes: new TokenBucket(this.settings.maxBytesPerSecond, this.settings.byteBurst, now),
      closing: false,
      muted: false,
      graceTimer: undefined,
    };
    this.clients.add(client);
    this.logger.debug('stream client connected', { client: client.id, token: principal?.name });
    // Counted before ws parses the bytes, whatever frames they hold.
    socket.prependListener('data', (chunk: Buffer) => this.onBytes(client, chunk.length));
    ws.on('ping', () => this.countMessage(client));
    ws.on('pong', (data) => this.onPong(client, data));
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

  // The limits hold while a client is closing too: its grace is for reading, not for sending.
  private onBytes(client: StreamClient, length: number): void {
    if (client.muted) return;
    if (!client.bytes.take(length, performance.now())) this.rateLimited(client, `more than ${this.settings.maxBytesPerSecond} bytes/s`);
  }

  /** Counts one message from the client; true when it is to be acted on (within the limits, and not closing). */
  private countMessage(client: StreamClient): boolean {
    if (client.muted) return false;
    if (client.messages.take(1, performance.now())) return !client.closing;
    this.rateLimited(client, `more than ${this.settings.maxMessagesPerSecond} messages/s`);
    return false;
  }

  private onPong(client: StreamClient, data: Buffer): void {
    if (!this.countMessage(client)) return;
    // Only the echo of the last ping shows the client read everything sent before it.
    if (client.awaitedPong && data.equals(client.awaitedPong)) client.awaitedPong = null;
  }

  private onMessage(client: StreamClient, data: RawData, isBinary: boolean): void {
    if (!this.countMessage(client)) return;
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
    client.position = since ?? this.options.bus.lastSeq;
    if (!this.sendControl(client, { type: 'subscribed', patterns: [...matcher.patterns], since, latestSeq: this.options.bus.lastSeq })) return;
    const { ws } = client;
    client.subscription = this.options.bus.subscribe({
      patterns: matcher.patterns,
      since,
      onEvent: (event, json) => this.sendEvent(client, event.seq, json),
      onLive: (cursor) => this.sendControl(client, { type: 'live', seq: cursor }),
      onMissed: ({ from, through, reason }) => this.sendControl(client, { type: 'missed', from, through, reason }),
      ready: () => ws.bufferedAmount < this.settings.replayHighWaterBytes,
    });
    if (client.closing) client.subscription.close();
  }

  private sendEvent(client: StreamClient, seq: number, json: string): void {
    // Every matching event before this one was sent: resuming after seq - 1 loses nothing.
    if (this.send(client, json, seq - 1)) client.position = seq;
  }

  private sendControl(client: StreamClient, message: StreamControlMessage): boolean {
    return this.send(client, JSON.stringify(message));
  }

  /**
   * The one way a message reaches a client: queued only while the client's send
   * queue stays within its bound (a single message larger than the bound goes to
   * an empty queue, or it could never be sent). Otherwise the client overflows;
   * false when the message was not queued.
   */
  private send(client: StreamClient, text: string, resumeFrom?: number): boolean {
    if (client.closing) return false;
    const queued = client.ws.bufferedAmount;
    if (queued > 0 && queued + Buffer.byteLength(text) > this.settings.maxBufferedBytes) {
      this.overflow(client, resumeFrom ?? client.subscription?.cursor ?? client.position);
      return false;
    }
    client.ws.send(text);
    return true;
  }

  private overflow(client: StreamClient, resumeFrom: number): void {
    if (!this.counted(client, 'overflow')) return;
    this.logger.warn('stream client too slow; disconnecting', { client: client.id, token: client.principal?.name, resumeFrom, queued: client.ws.bufferedAmount });
    // Past the bound by this one small message: the client must learn where to resume.
    client.ws.send(JSON.stringify({ type: 'overflow', resumeFrom } satisfies StreamControlMessage));
    this.closeClient(client, CLOSE_OVERFLOW, 'overflow');
  }

  private rateLimited(client: StreamClient, limit: string): void {
    if (client.muted) return;
    if (this.counted(client, 'rate')) {
      this.logger.warn('stream client sends too much; disconnecting', { client: client.id, token: client.principal?.name, limit });
      this.closeClient(client, CLOSE_RATE_LIMIT, `rate limit: ${limit}`);
    }
    // Read nothing more from it; end our side once the close frame is out, so a client that reads learns why at once.
    client.muted = true;
    client.ws.pause();
    client.socket.end();
  }

  private onRevoked(tokenId: string): void {
    for (const client of this.clients) {
      if (client.principal?.tokenId !== tokenId || !this.counted(client, 'revoked')) continue;
      this.logger.info('stream token revoked; disconnecting', { client: client.id, token: client.principal.name });
      this.closeClient(client, CLOSE_TOKEN_REVOKED, 'token revoked');
    }
  }

  /** Counts why a client is closed: true the first time, false once it is closing already. */
  private counted(client: StreamClient, reason: StreamCloseReason): boolean {
    if (client.closing) return false;
    this.closedCounts[reason]++;
    return true;
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
      if (client.closing) continue;
      if (client.awaitedPong) {
        // It has not read through the last ping (queued behind everything sent before it) in a whole interval.
        this.counted(client, 'stalled');
        this.logger.warn('stream client stopped reading; dropping it', { client: client.id, token: client.principal?.name, queued: client.ws.bufferedAmount });
        client.closing = true;
        client.subscription?.close();
        client.ws.terminate();
        continue;
      }
      client.awaitedPong = randomBytes(8);
      try {
        client.ws.ping(client.awaitedPong);
      } catch {
        client.ws.terminate();
      }
    }
  }
}

/** A token bucket: `rate` tokens a second, at most `burst` saved up. */
class TokenBucket {
  private tokens: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private last: number,
  ) {
    this.tokens = burst;
  }

  /** Takes `amount` tokens; false once the bucket is overdrawn. */
  take(amount: number, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= amount;
    return this.tokens >= 0;
  }
}

function announcesRevocations(value: unknown): value is TokenRevocations {
  const candidate = value as Partial<TokenRevocations> | null;
  return typeof candidate?.on === 'function' && typeof candidate.off === 'function';
}

/**
 * Whether a browser's `Origin` is the daemon itself: http(s) on the port the
 * request reached (its Host header), from that host name or a loopback name
 * (localhost, 127.x.x.x, [::1]: the same daemon under another loopback name).
 */
export function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  let from: URL;
  let reached: URL;
  try {
    from = new URL(origin);
    reached = new URL(`http://${host}`);
  } catch {
    return false;
  }
  if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
  const defaultPort = from.protocol === 'https:' ? '443' : '80';
  if ((from.port || defaultPort) !== (reached.port || defaultPort)) return false;
  return from.hostname === reached.hostname || (isLoopbackName(from.hostname) && isLoopbackName(reached.hostname));
}

function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
