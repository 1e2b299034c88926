import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiTokenStore } from '../../src/daemon/api-token-store.js';
import { topics, type DaemonEvent } from '../../src/daemon/daemon-event.js';
import { EventBus } from '../../src/daemon/event-bus.js';
import { EventStreamServer, type EventStreamServerOptions } from '../../src/daemon/event-stream-server.js';
import { CLOSE_OVERFLOW, STREAM_PATH } from '../../src/daemon/stream-protocol.js';
import { silentLogger } from './helpers/silent-logger.js';
import { StreamClient } from './helpers/stream-client.js';
import { sleep, TempDir, tick, waitFor } from './helpers/temp-dir.js';

describe('EventStreamServer: the live event stream over WebSocket', () => {
  let dir: TempDir;
  let bus: EventBus;
  let tokens: ApiTokenStore;
  let viewer: string;
  let http: Server;
  let stream: EventStreamServer;
  let base: string;
  const clients: StreamClient[] = [];

  async function start(options: Partial<EventStreamServerOptions> = {}): Promise<void> {
    http = createServer((_req, res) => res.writeHead(404).end());
    stream = new EventStreamServer({ server: http, bus, verifier: tokens, logger: silentLogger, ...options });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `ws://127.0.0.1:${(http.address() as AddressInfo).port}${STREAM_PATH}`;
  }

  async function connect(query: string, headers: Record<string, string> = { authorization: `Bearer ${viewer}` }): Promise<StreamClient> {
    const client = await StreamClient.connect(`${base}${query}`, headers);
    clients.push(client);
    return client;
  }

  function publishLines(count: number, text = 'x', boards = 50): DaemonEvent[] {
    const published: DaemonEvent[] = [];
    for (let i = 0; i < count; i++) {
      const boardId = `board-${i % boards}`;
      published.push(bus.publish(topics.console(boardId), 'console.line', { boardId, line: { seq: i, timestamp: Date.now(), text } }));
    }
    return published;
  }

  beforeEach(async () => {
    dir = new TempDir();
    bus = EventBus.open({ path: dir.file('events.sqlite'), logger: silentLogger, memoryEvents: 1000, flushIntervalMs: 2 });
    tokens = ApiTokenStore.open(dir.file('api-tokens.json'));
    viewer = tokens.create('dashboard', 'viewer').token;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await stream.close();
    await new Promise((resolve) => http.close(resolve));
    bus.close();
    dir.remove();
  });

  it('refuses an upgrade without a token or with a bad one, and accepts a token in the header or the query', async () => {
    await start();
    const refused = async (query: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> => {
      try {
        await connect(query, headers);
      } catch (error) {
        return error as { status: number; body: string };
      }
      throw new Error('the upgrade was accepted');
    };
    const none = await refused('');
    expect(none.status).to.equal(401);
    expect(JSON.parse(none.body)).to.deep.equal({ error: { code: 'unauthenticated', message: 'an API token is required (Authorization: Bearer <token>)' } });
    expect((await refused('', { authorization: 'Bearer srt_000000000000_' + 'A'.repeat(43) })).status).to.equal(401);
    expect((await refused('?token=nonsense')).status).to.equal(401);
    expect((await refused('', { authorization: 'Basic dXNlcjpwYXNz' })).status).to.equal(401);

    const byHeader = await connect('?subscribe=*');
    const byQuery = await connect(`?subscribe=*&token=${encodeURIComponent(viewer)}`, {});
    await byHeader.waitForControl('live');
    await byQuery.waitForControl('live');
    const event = bus.publish(topics.system, 'system', { level: 'info', message: 'hello' });
    await byHeader.waitForEvents(1);
    await byQuery.waitForEvents(1);
    expect(byQuery.events[0]).to.deep.equal(JSON.parse(JSON.stringify(event)));
    expect(Object.keys(byQuery.events[0]!)).to.deep.equal(['seq', 'topic', 'type', 'time', 'payload']);
    expect(stream.clientCount).to.equal(2);
  });

  it('refuses a role below the one required', async () => {
    await start({ requiredRole: 'operator' });
    const error = await connect('').then(
      () => null,
      (e: { status: number }) => e,
    );
    expect(error?.status).to.equal(403);
  });

  it('gives a client that reconnects from its last sequence number every event exactly once, in order, replay then live', async () => {
    await start();
    const first = await connect('?subscribe=console:*&since=0');
    await first.waitForControl('live');
    const all = publishLines(1000);
    all.push(bus.publish(topics.board('board-1'), 'board.state', { boardId: 'board-1', from: 'off', to: 'booting' }));
    await first.waitForEvents(1000);
    await first.close();
    const resumeFrom = first.lastSeq;

    // Thousands of console lines while it is away, most of them gone from memory to SQLite.
    all.push(...publishLines(5000));
    await sleep(20);
    const second = await connect(`?subscribe=${encodeURIComponent('console:*')}&since=${resumeFrom}`);
    // Keep publishing through the replay and the switch to live.
    while (second.control('live').length === 0) {
      all.push(...publishLines(20));
      await tick();
    }
    all.push(...publishLines(300));
    const expected = all.filter((e) => e.topic.startsWith('console:') && e.seq > resumeFrom).map((e) => e.seq);
    await second.waitForEvents(expected.length);
    await sleep(20);
    expect(second.events.map((e) => e.seq)).to.deep.equal(expected);
    expect(second.controls[0]).to.deep.include({ type: 'subscribed', patterns: ['console:*'], since: resumeFrom });
    // Nothing the first connection saw comes again.
    const seen = new Set(first.events.map((e) => e.seq));
    expect(second.events.some((e) => seen.has(e.seq))).to.equal(false);
  });

  it('subscribes by message, replaces a subscription, and answers malformed messages with an error without closing', async () => {
    await start();
    const client = await connect('');
    const bad: unknown[] = [
      'not json',
      '{"subscribe": "board:*"}',
      '{"subscribe": []}',
      '{"subscribe": ["board:*"], "since": -4}',
      '{"subscribe": ["board:*"], "since": 1.5}',
      '{"subscribe": ["board:*"], "extra": true}',
      '{"subscribe": ["board:[1]"]}',
      '{"subscribe": [42]}',
      '[]',
      'null',
      '{"__proto__": {"subscribe": ["*"]}}',
    ];
    for (const message of bad) client.send(message);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.waitForControl('error', bad.length + 1);
    expect(client.control('error').map((e) => e.code)).to.include.members(['malformed-json', 'bad-message', 'bad-topic-pattern']);
    expect(client.control('error').find((e) => e.code === 'bad-topic-pattern')?.message).to.contain('board:[1]');

    client.send({ subscribe: ['board:*'] });
    await client.waitForControl('live');
    bus.publish(topics.console('b'), 'console.line', { boardId: 'b', line: { seq: 1, timestamp: 0, text: 'skip me' } });
    const state = bus.publish(topics.board('b'), 'board.state', { boardId: 'b', from: null, to: 'ready' });
    await client.waitForEvents(1);
    // A new subscription without since continues where the old one was.
    client.send({ subscribe: ['console:*', 'board:*'] });
    await client.waitForControl('live', 2);
    const line = bus.publish(topics.console('b'), 'console.line', { boardId: 'b', line: { seq: 2, timestamp: 0, text: 'see me' } });
    await client.waitForEvents(2);
    expect(client.events.map((e) => e.seq)).to.deep.equal([state.seq, line.seq]);
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
  });

  it('closes a client that sends a message larger than the limit, and keeps serving others', async () => {
    await start({ maxMessageBytes: 1024 });
    const big = await connect('');
    const other = await connect('?subscribe=*');
    big.send({ subscribe: ['x'.repeat(5000)] });
    await waitFor(() => big.closeCode !== null, 2000, 'close');
    expect(big.closeCode).to.equal(1009);
    bus.publish(topics.system, 'system', { level: 'info', message: 'still here' });
    await other.waitForEvents(1);
  });

  it('disconnects a client that stops reading with its resume point, while a normal client keeps receiving', async function () {
    this.timeout(60_000);
    await start({ maxBufferedBytes: 1024 * 1024, closeGraceMs: 30_000 });
    const slow = await connect('?subscribe=*');
    const normal = await connect('?subscribe=*');
    await slow.waitForControl('live');
    await normal.waitForControl('live');
    slow.ws.pause();

    const text = 'y'.repeat(4096);
    const published: DaemonEvent[] = [];
    // Fill the loopback socket buffers and then the server's, in bounded steps.
    while (stream.stats().overflows === 0 && published.length < 40_000) {
      published.push(...publishLines(50, text));
      await tick();
    }
    expect(stream.stats().overflows, 'the slow client overflowed').to.equal(1);
    published.push(...publishLines(200, text));
    await normal.waitForEvents(published.length, 20_000);
    expect(normal.events.map((e) => e.seq)).to.deep.equal(published.map((e) => e.seq));
    expect(normal.closeCode).to.equal(null);

    // The slow client reads what was sent before the overflow, then the resume point, then 4008.
    slow.ws.resume();
    await waitFor(() => slow.closeCode !== null, 10_000, 'slow client closed');
    expect(slow.closeCode).to.equal(CLOSE_OVERFLOW);
    const last = slow.all.at(-1) as { type: string; resumeFrom: number };
    expect(last.type).to.equal('overflow');
    expect(last.resumeFrom).to.equal(slow.lastSeq);
    expect(slow.events.map((e) => e.seq)).to.deep.equal(published.filter((e) => e.seq <= last.resumeFrom).map((e) => e.seq));
    await waitFor(() => stream.clientCount === 1, 2000, 'the server to forget the slow client');

    // It resumes from there and gets the rest, exactly once.
    const resumed = await connect(`?subscribe=*&since=${last.resumeFrom}`);
    const rest = published.filter((e) => e.seq > last.resumeFrom).map((e) => e.seq);
    await resumed.waitForEvents(rest.length, 20_000);
    expect(resumed.events.map((e) => e.seq)).to.deep.equal(rest);
  });

  it('drops a client that stops answering heartbeats', async () => {
    await start({ heartbeatIntervalMs: 250 });
    const dead = await connect('?subscribe=*');
    const healthy = await connect('?subscribe=*');
    dead.ws.pause();
    await waitFor(() => stream.clientCount === 1, 5000, 'the dead client to be dropped');
    bus.publish(topics.system, 'system', { level: 'info', message: 'after' });
    await healthy.waitForEvents(1);
  });

  it('answers other upgrade paths with 404 and closes every client with 1001 when it stops', async () => {
    await start();
    const wrongPath = await StreamClient.connect(base.replace(STREAM_PATH, '/api/v1/other'), { authorization: `Bearer ${viewer}` }).then(
      () => null,
      (e: { status: number }) => e,
    );
    expect(wrongPath?.status).to.equal(404);
    const client = await connect('?subscribe=*');
    await stream.close();
    await waitFor(() => client.closeCode !== null, 2000, 'close');
    expect(client.closeCode).to.equal(1001);
  });
});
