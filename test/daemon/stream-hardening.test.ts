import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createServer, get, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ApiTokenStore } from '../../src/daemon/api-token-store.js';
import { topics, type DaemonEvent } from '../../src/daemon/daemon-event.js';
import { EventBus } from '../../src/daemon/event-bus.js';
import { EventStreamServer, type EventStreamServerOptions } from '../../src/daemon/event-stream-server.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { CLOSE_OVERFLOW, CLOSE_RATE_LIMIT, CLOSE_TOKEN_REVOKED, STREAM_PATH } from '../../src/daemon/stream-protocol.js';
import { silentLogger } from './helpers/silent-logger.js';
import { StreamClient } from './helpers/stream-client.js';
import { TempDir, tick, waitFor } from './helpers/temp-dir.js';

/** One frame as a client must send it (masked; a zero mask keeps the payload readable). */
function clientFrame(opcode: number, payload: Buffer | string): Buffer {
  const data = Buffer.from(payload);
  if (data.length > 125) throw new Error('only short frames here');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | data.length, 0, 0, 0, 0]), data]);
}

interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** The complete frames at the start of `buffer` (the server never masks), and what is left. */
function parseServerFrames(buffer: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let offset = 0;
  for (;;) {
    if (buffer.length - offset < 2) break;
    let length = buffer[offset + 1]! & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      if (buffer.length < start + 2) break;
      length = buffer.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (buffer.length < start + 8) break;
      length = Number(buffer.readBigUInt64BE(start));
      start += 8;
    }
    if (buffer.length < start + length) break;
    frames.push({ opcode: buffer[offset]! & 0x0f, payload: buffer.subarray(start, start + length) });
    offset = start + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/**
 * A WebSocket client written by hand on a raw TCP socket, so it can do what a
 * well-behaved library never would: stop reading entirely right after the
 * handshake (its kernel receive window fills and stays full) while it keeps
 * sending whatever frames it likes.
 */
class RawStreamClient {
  private unread: Buffer = Buffer.alloc(0);
  error: Error | null = null;
  /** True while a flood waits for the socket to take more. */
  blocked = false;
  private stopped = false;

  private constructor(readonly socket: Socket) {
    socket.on('error', (error) => (this.error = error));
  }

  static connect(port: number, pathAndQuery: string, headers: Record<string, string>): Promise<RawStreamClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const client = new RawStreamClient(socket);
      let head: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        // From here on it reads nothing until told to.
        socket.off('data', onData);
        socket.pause();
        const status = head.subarray(0, end).toString('latin1').split(' ')[1];
        if (status !== '101') return reject(new Error(`upgrade refused: ${head.toString('latin1')}`));
        client.unread = head.subarray(end + 4);
        resolve(client);
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('connect', () => {
        const lines = [
          `GET ${pathAndQuery} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
        ];
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      });
    });
  }

  send(opcode: number, payload: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(clientFrame(opcode, payload));
  }

  /** Writes `chunk` `times` times as fast as the socket takes it; ends early on stop() or when the socket closes. */
  async flood(chunk: Buffer, times: number): Promise<number> {
    let written = 0;
    while (written < times && !this.stopped && !this.socket.destroyed) {
      written++;
      if (this.socket.write(chunk)) continue;
      this.blocked = true;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
      this.blocked = false;
    }
    return written;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Starts reading: everything the server sent, up to and with its close frame. */
  readUntilClose(timeoutMs = 10_000): Promise<{ texts: string[]; close: { code: number; reason: string } | null }> {
    return new Promise((resolve, reject) => {
      const texts: string[] = [];
      const finish = (close: { code: number; reason: string } | null): void => {
        clearTimeout(timer);
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
        resolve({ texts, close });
      };
      const consume = (): boolean => {
        const { frames, rest } = parseServerFrames(this.unread);
        this.unread = rest;
        for (const frame of frames) {
          if (frame.opcode === 0x1) texts.push(frame.payload.toString('utf8'));
          if (frame.opcode === 0x8) {
            finish({ code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') });
            return true;
          }
        }
        return false;
      };
      const onData = (chunk: Buffer): void => {
        this.unread = Buffer.concat([this.unread, chunk]);
        consume();
      };
      const onClose = (): void => finish(null);
      const timer = setTimeout(() => {
        this.socket.off('data', onData);
        reject(new Error(`no close frame within ${timeoutMs} ms (${texts.length} messages read)`));
      }, timeoutMs);
      if (consume()) return;
      this.socket.on('data', onData);
      this.socket.on('close', onClose);
      this.socket.resume();
    });
  }

  destroy(): void {
    this.stopped = true;
    this.socket.destroy();
  }
}

describe('EventStreamServer hardening: bounded queues, inbound rate, liveness, revocation, origin', () => {
  let dir: TempDir;
  let bus: EventBus;
  let tokens: ApiTokenStore;
  let viewer: string;
  let http: Server;
  let stream: EventStreamServer;
  let port: number;
  let base: string;
  const clients: StreamClient[] = [];
  const raws: RawStreamClient[] = [];

  async function start(options: Partial<EventStreamServerOptions> = {}): Promise<void> {
    http = createServer((req, res) => {
      if (req.url === '/api/v1/health') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      else res.writeHead(404).end();
    });
    stream = new EventStreamServer({ server: http, bus, verifier: tokens, logger: silentLogger, ...options });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
    base = `ws://127.0.0.1:${port}${STREAM_PATH}`;
  }

  async function connectClient(query: string, headers: Record<string, string> = { authorization: `Bearer ${viewer}` }): Promise<StreamClient> {
    const client = await StreamClient.connect(`${base}${query}`, headers);
    clients.push(client);
    return client;
  }

  async function connectRaw(query: string, token = viewer): Promise<RawStreamClient> {
    const client = await RawStreamClient.connect(port, `${STREAM_PATH}${query}`, { Authorization: `Bearer ${token}` });
    raws.push(client);
    return client;
  }

  /** Milliseconds until GET /api/v1/health on the stream's own HTTP server answers 200. */
  function timeHealth(): Promise<number> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = get({ host: '127.0.0.1', port, path: '/api/v1/health', agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`health answered ${res.statusCode}`))));
      });
      req.on('error', reject);
    });
  }

  function publishLines(count: number, text: string): DaemonEvent[] {
    const published: DaemonEvent[] = [];
    for (let i = 0; i < count; i++) published.push(bus.publish(topics.console('board-1'), 'console.line', { boardId: 'board-1', line: { seq: i, timestamp: 0, text } }));
    return published;
  }

  function metric(name: string, reason: string): number | undefined {
    const text = new DaemonMetrics({ stream }, { logger: silentLogger }).render();
    const match = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  }

  beforeEach(() => {
    dir = new TempDir();
    bus = EventBus.open({ path: dir.file('events.sqlite'), logger: silentLogger, memoryEvents: 20_000, flushIntervalMs: 2 });
    tokens = ApiTokenStore.open(dir.file('api-tokens.json'));
    viewer = tokens.create('dashboard', 'viewer').token;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    for (const raw of raws.splice(0)) raw.destroy();
    await stream.close();
    await new Promise((resolve) => http.close(resolve));
    bus.close();
    dir.remove();
  });

  it('closes a client flooding 1-byte invalid frames without reading with 1008, while memory stays flat and health answers at once', async function () {
    this.timeout(60_000);
    await start();
    const normal = await connectClient('?subscribe=*');
    await normal.waitForControl('live');
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 5);

    const flooder = await connectRaw('');
    // 9362 one-byte text frames of "x" (not JSON) in one 64 KiB write; 150 writes are the 1.4 million frames of the report.
    const chunk = Buffer.concat(Array.from({ length: 9362 }, () => clientFrame(0x1, 'x')));
    const flood = flooder.flood(chunk, 150);
    const healthMs = await timeHealth();
    await waitFor(() => stream.stats().closed.rate === 1, 15_000, 'the flooding client to be closed for its rate');
    // The daemon reads nothing more from it: the flood backs up into the flooder's own socket.
    await waitFor(() => flooder.blocked, 15_000, 'the flood to back up');
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

    expect(healthMs, 'health answered during the flood within 100 ms').to.be.below(100);
    expect((rssPeak - rssBefore) / 2 ** 20, 'RSS growth over the flood, MiB').to.be.below(100);
    expect(metric('sphere_rig_stream_closed_total', 'rate')).to.equal(1);

    const { texts, close } = await flooder.readUntilClose();
    expect(close?.code).to.equal(CLOSE_RATE_LIMIT);
    expect(close?.reason).to.equal('rate limit: more than 20 messages/s');
    // What it got before the close: one error per frame within the burst, nothing unbounded.
    expect(texts.length).to.be.within(1, 110);
    expect(texts.every((t) => (JSON.parse(t) as { code?: string }).code === 'malformed-json')).to.equal(true);
    flooder.destroy();
    await flood;

    // Others are untouched.
    const event = bus.publish(topics.system, 'system', { level: 'info', message: 'after the flood' });
    await normal.waitForEvent((e) => e.seq === event.seq, 5000, 'the event after the flood');
    expect(normal.closeCode).to.equal(null);
    expect(stream.stats().closed).to.deep.equal({ overflow: 0, rate: 1, stalled: 0, revoked: 0 });
  });

  it('counts replies to bad frames against the send-queue bound: a client that sends them and never reads overflows with 4008', async function () {
    this.timeout(60_000);
    const bound = 64 * 1024;
    // Rate limits out of the way, so only the queue bound can stop it.
    await start({ maxBufferedBytes: bound, maxMessagesPerSecond: 1e9, messageBurst: 1e9, maxBytesPerSecond: 1e12, byteBurst: 1e12 });
    const flooder = await connectRaw('');
    const chunk = Buffer.concat(Array.from({ length: 9362 }, () => clientFrame(0x1, 'x')));
    let maxQueued = 0;
    const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, stream.stats().maxQueuedBytes)), 1);
    const flood = flooder.flood(chunk, 1000);
    await waitFor(() => stream.stats().closed.overflow === 1, 30_000, 'the client to overflow');
    flooder.stop();
    clearInterval(sampler);
    maxQueued = Math.max(maxQueued, stream.stats().maxQueuedBytes);
    // The bound, plus the overflow message and the close frame.
    expect(maxQueued).to.be.at.most(bound + 100);

    const { texts, close } = await flooder.readUntilClose(20_000);
    expect(close?.code).to.equal(CLOSE_OVERFLOW);
    expect(JSON.parse(texts.at(-1)!)).to.deep.equal({ type: 'overflow', resumeFrom: 0 });
    expect(texts.slice(0, -1).every((t) => (JSON.parse(t) as { code?: string }).code === 'malformed-json')).to.equal(true);
    flooder.destroy();
    await flood;
    expect(metric('sphere_rig_stream_closed_total', 'overflow')).to.equal(1);
  });

  it('cuts off a client that subscribes to a busy topic and never reads with 4008 and its resume point; a reading client gets everything', async function () {
    this.timeout(60_000);
    const bound = 64 * 1024;
    await start({ maxBufferedBytes: bound, closeGraceMs: 30_000 });
    const slow = await connectRaw('?subscribe=console:*');
    const normal = await connectClient('?subscribe=console:*');
    await normal.waitForControl('live');
    await waitFor(() => stream.stats().clients === 2 && stream.stats().maxLagEvents === 0, 5000, 'both subscribed');

    const text = 'y'.repeat(1024);
    const published: DaemonEvent[] = [];
    let maxQueued = 0;
    // 16 KiB at a time, well within what the reading client's socket takes between two turns of the event loop.
    while (stream.stats().closed.overflow === 0 && published.length < 50_000) {
      published.push(...publishLines(16, text));
      maxQueued = Math.max(maxQueued, stream.stats().maxQueuedBytes);
      await tick();
    }
    expect(stream.stats().closed.overflow, 'the slow client overflowed').to.equal(1);
    expect(maxQueued, 'no send queue went past the bound (+ the overflow message and close frame)').to.be.at.most(bound + 100);
    published.push(...publishLines(100, text));

    await normal.waitForEvents(published.length, 20_000);
    expect(normal.events.map((e) => e.seq)).to.deep.equal(published.map((e) => e.seq));
    expect(normal.closeCode).to.equal(null);

    const { texts, close } = await slow.readUntilClose(20_000);
    expect(close?.code).to.equal(CLOSE_OVERFLOW);
    const messages = texts.map((t) => JSON.parse(t) as { type?: string; seq?: number; resumeFrom?: number });
    const last = messages.at(-1)!;
    expect(last.type).to.equal('overflow');
    const events = messages.filter((m) => typeof m.seq === 'number' && 'topic' in m).map((m) => m.seq!);
    expect(events.length).to.be.above(0);
    expect(last.resumeFrom).to.equal(events.at(-1));
    // Everything up to the resume point, in order, and nothing after it.
    expect(events).to.deep.equal(published.filter((e) => e.seq <= last.resumeFrom!).map((e) => e.seq));
    expect(metric('sphere_rig_stream_closed_total', 'overflow')).to.equal(1);

    // Resuming from there gives the rest, exactly once.
    slow.destroy();
    const resumed = await connectClient(`?subscribe=console:*&since=${last.resumeFrom}`);
    const rest = published.filter((e) => e.seq > last.resumeFrom!).map((e) => e.seq);
    await resumed.waitForEvents(rest.length, 20_000);
    expect(resumed.events.map((e) => e.seq)).to.deep.equal(rest);
  });

  it('drops a client that keeps sending (messages and unasked-for pongs) but never reads, at the heartbeat; a reading client stays', async function () {
    this.timeout(30_000);
    await start({ heartbeatIntervalMs: 500, maxMessagesPerSecond: 10_000, messageBurst: 10_000 });
    const normal = await connectClient('?subscribe=*');
    const stuck = await connectRaw('?subscribe=*');
    // What used to count as alive: anything it sends.
    const chatter = setInterval(() => {
      stuck.send(0x1, '{"subscribe": ["*"]}');
      stuck.send(0xa, 'alive!');
    }, 20);
    try {
      await waitFor(() => stream.stats().closed.stalled === 1, 10_000, 'the client that does not read to be dropped');
    } finally {
      clearInterval(chatter);
    }
    await waitFor(() => stream.clientCount === 1, 5000, 'the server to forget it');
    expect(normal.closeCode).to.equal(null);
    const event = bus.publish(topics.system, 'system', { level: 'info', message: 'still here' });
    await normal.waitForEvent((e) => e.seq === event.seq, 5000, 'the event');
    expect(metric('sphere_rig_stream_closed_total', 'stalled')).to.equal(1);
  });

  it('closes every stream opened with a token with 4001 once the token is revoked, and sends it nothing more', async () => {
    await start();
    const doomed = tokens.create('qa-laptop', 'viewer');
    const first = await connectClient('?subscribe=*', { authorization: `Bearer ${doomed.token}` });
    const second = await connectClient(`?subscribe=*&token=${encodeURIComponent(doomed.token)}`, {});
    const other = await connectClient('?subscribe=*');
    for (const client of [first, second, other]) await client.waitForControl('live');
    const reasons: string[] = [];
    for (const client of [first, second]) client.ws.once('close', (_code, reason) => reasons.push(reason.toString()));

    expect(tokens.revoke(doomed.info.id)).to.equal(true);
    const after = bus.publish(topics.system, 'system', { level: 'info', message: 'after the revocation' });
    await waitFor(() => first.closeCode !== null && second.closeCode !== null, 5000, 'both streams of the token to close');
    expect([first.closeCode, second.closeCode]).to.deep.equal([CLOSE_TOKEN_REVOKED, CLOSE_TOKEN_REVOKED]);
    expect(reasons).to.deep.equal(['token revoked', 'token revoked']);
    expect(first.events).to.deep.equal([]);
    expect(second.events).to.deep.equal([]);
    await other.waitForEvent((e) => e.seq === after.seq, 5000, 'the event on the other token');
    expect(other.closeCode).to.equal(null);
    expect(stream.stats().closed.revoked).to.equal(2);
    expect(metric('sphere_rig_stream_closed_total', 'revoked')).to.equal(2);

    // A token removed from the file by another process counts once the store reloads it.
    const later = tokens.create('ci', 'viewer');
    const third = await connectClient('?subscribe=*', { authorization: `Bearer ${later.token}` });
    await third.waitForControl('live');
    ApiTokenStore.open(tokens.path).revoke(later.info.id);
    tokens.reload();
    await waitFor(() => third.closeCode !== null, 5000, 'the stream of the token revoked elsewhere to close');
    expect(third.closeCode).to.equal(CLOSE_TOKEN_REVOKED);
  });

  it('refuses an upgrade from another web origin with 403 and accepts the daemon’s own origin or none', async () => {
    await start();
    const auth = { authorization: `Bearer ${viewer}` };
    const refused = async (origin: string): Promise<{ status: number; body: string }> => {
      const error = await StreamClient.connect(`${base}?subscribe=*`, { ...auth, origin }).then(
        (client) => {
          clients.push(client);
          return null;
        },
        (e: { status: number; body: string }) => e,
      );
      if (!error) throw new Error(`an upgrade from ${origin} was accepted`);
      return error;
    };
    const evil = await refused('https://evil.example');
    expect(evil.status).to.equal(403);
    expect(JSON.parse(evil.body)).to.deep.equal({
      error: { code: 'forbidden-origin', message: 'WebSocket connections from the web origin "https://evil.example" are not allowed; only from the daemon\'s own origin' },
    });
    for (const origin of [`http://evil.example:${port}`, `http://127.0.0.1:${port + 1}`, 'http://127.0.0.1', 'null', 'file://', 'not a url']) {
      expect((await refused(origin)).status, origin).to.equal(403);
    }
    expect(stream.clientCount).to.equal(0);

    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, `http://127.0.0.2:${port}`]) {
      const client = await connectClient('?subscribe=*', { ...auth, origin });
      await client.waitForControl('live');
    }
    const scripted = await connectClient('?subscribe=*');
    await scripted.waitForControl('live');
    expect(stream.clientCount).to.equal(5);
  });
});
