import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { topics, type DaemonEvent } from '../../src/daemon/daemon-event.js';
import { EventBus, EventBusError, type EventBusOptions, type EventSubscription, type MissedEvents } from '../../src/daemon/event-bus.js';
import { EventLog } from '../../src/daemon/event-log.js';
import { TopicMatcher, TopicPatternError } from '../../src/daemon/topic-pattern.js';
import { silentLogger } from './helpers/silent-logger.js';
import { sleep, TempDir, tick, waitFor } from './helpers/temp-dir.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const BOARDS = Array.from({ length: 50 }, (_, i) => `board-${String(i + 1).padStart(2, '0')}`);

function publishConsoleLines(bus: EventBus, count: number, startLine = 0): DaemonEvent[] {
  const published: DaemonEvent[] = [];
  for (let i = 0; i < count; i++) {
    const boardId = BOARDS[i % BOARDS.length]!;
    const n = startLine + i;
    published.push(bus.publish(topics.console(boardId), 'console.line', { boardId, line: { seq: n, timestamp: Date.now(), text: `line ${n}` } }));
  }
  return published;
}

/** Collects what a subscription delivers. */
class Collector {
  readonly events: DaemonEvent[] = [];
  live = false;
  missedThrough: number | null = null;
  readonly missed: MissedEvents[] = [];
  subscription!: EventSubscription;

  subscribe(bus: EventBus, patterns: string[], since: number | null): this {
    this.live = false;
    this.subscription = bus.subscribe({
      patterns,
      since,
      onEvent: (event) => this.events.push(event),
      onLive: () => (this.live = true),
      onMissed: (missed) => {
        this.missed.push(missed);
        this.missedThrough = missed.through;
      },
    });
    return this;
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  seqs(): number[] {
    return this.events.map((e) => e.seq);
  }
}

function expectExactlyOnceInOrder(received: readonly DaemonEvent[], expected: readonly DaemonEvent[]): void {
  const seqs = received.map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `event ${i} out of order`).to.be.greaterThan(seqs[i - 1]!);
  expect(seqs).to.deep.equal(expected.map((e) => e.seq));
}

describe('EventBus: the daemon event bus', () => {
  let dir: TempDir;
  const buses: EventBus[] = [];
  /** Runs a helper that publishes and dies by SIGKILL on this test's log; what it printed. */
  const runChild = (name: string): Promise<string> => {
    const child = fileURLToPath(new URL(`./helpers/${name}`, import.meta.url));
    return new Promise<string>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', child, dir.file('events.sqlite')], { cwd: REPO }, (_error, stdout) => resolve(stdout));
    });
  };
    const open = (options: Partial<EventBusOptions> = {}): EventBus => {
    const bus = EventBus.open({ path: dir.file('events.sqlite'), logger: silentLogger, ...options });
    buses.push(bus);
    return bus;
  };

  beforeEach(() => {
    dir = new TempDir();
  });

  afterEach(() => {
    for (const bus of buses.splice(0)) bus.close();
    dir.remove();
  });

  it('numbers events strictly increasing and continues after a clean reopen', () => {
    const bus = open();
    const first = publishConsoleLines(bus, 1000);
    expect(first.map((e) => e.seq)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i + 1));
    bus.close();

    const reopened = open();
    const next = reopened.publish(topics.system, 'system', { level: 'info', message: 'daemon started' });
    expect(next.seq).to.equal(1001);
    expect(next.topic).to.equal('system');
    expect(Date.parse(next.time)).to.be.closeTo(Date.now(), 5000);
  });

  it('never reuses a sequence number handed out before a SIGKILL, even one that never reached the disk', async () => {
    const child = fileURLToPath(new URL('./helpers/event-bus-crash-child.ts', import.meta.url));
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', child, dir.file('events.sqlite')], { cwd: REPO }, (_error, stdout) => resolve(stdout));
    });
    const { persisted, handedOut } = JSON.parse(output) as { persisted: number; handedOut: number };
    expect(handedOut).to.equal(800);

    const bus = open();
    const replayed = new Collector().subscribe(bus, ['*'], 0);
    await waitFor(() => replayed.live, 5000, 'replay');
    expect(replayed.seqs()).to.deep.equal(Array.from({ length: persisted }, (_, i) => i + 1));
    const after = bus.publish(topics.system, 'system', { level: 'info', message: 'restarted' });
    expect(after.seq).to.be.greaterThan(handedOut);
    await waitFor(() => replayed.events.length === persisted + 1, 2000, 'live event');
  });

  it('announces the events a SIGKILL lost to a client resuming across them, where the hole is', async () => {
    const output = await runChild('event-bus-crash-child.ts');
    const { persisted, handedOut } = JSON.parse(output) as { persisted: number; handedOut: number };
    const bus = open();
    const restartedAt = bus.lastSeq;
    expect(restartedAt).to.be.at.least(handedOut);

    // From before the crash: the stored events, then the notice, then live.
    const order: string[] = [];
    const tracked = bus.subscribe({
      since: persisted - 2,
      onEvent: (event) => order.push(`event ${event.seq}`),
      onMissed: (missed) => order.push(`missed ${missed.from}-${missed.through} ${missed.reason}`),
      onLive: () => order.push('live'),
    });
    await waitFor(() => order.includes('live'), 5000, 'replay');
    tracked.close();
    expect(order).to.deep.equal([`event ${persisted - 1}`, `event ${persisted}`, `missed ${persisted + 1}-${restartedAt} crash`, 'live']);

    // A client that saw some of the lost events live is told from the one after its last.
    const sawSome = new Collector().subscribe(bus, ['console:*'], persisted + 100);
    await waitFor(() => sawSome.live, 5000, 'replay');
    expect(sawSome.missed).to.deep.equal([{ from: persisted + 101, through: restartedAt, reason: 'crash' }]);
    expect(sawSome.events).to.deep.equal([]);

    // One that resumes past the crash is not told; nor after one more clean restart (the gap is on disk).
    bus.publish(topics.system, 'system', { level: 'info', message: 'restarted' });
    bus.close();
    const again = open();
    const past = new Collector().subscribe(again, ['*'], restartedAt);
    const across = new Collector().subscribe(again, ['*'], persisted);
    await waitFor(() => past.live && across.live, 5000, 'replay');
    expect(past.missed).to.deep.equal([]);
    expect(past.seqs()).to.deep.equal([restartedAt + 1]);
    expect(across.missed).to.deep.equal([{ from: persisted + 1, through: restartedAt, reason: 'crash' }]);
    expect(across.seqs()).to.deep.equal([restartedAt + 1]);
  });

  it('announces nothing after a SIGKILL that came once every event handed out was written', async () => {
    const { handedOut } = JSON.parse(await runChild('event-bus-idle-crash-child.ts')) as { handedOut: number };
    const bus = open();
    expect(bus.lastSeq).to.be.at.least(handedOut);
    const resumed = new Collector().subscribe(bus, ['*'], 0);
    const atTheEnd = new Collector().subscribe(bus, ['*'], handedOut);
    await waitFor(() => resumed.live && atTheEnd.live, 5000, 'replay');
    expect(resumed.seqs()).to.deep.equal(Array.from({ length: handedOut }, (_, i) => i + 1));
    expect(resumed.missed).to.deep.equal([]);
    expect(atTheEnd.missed).to.deep.equal([]);
  });

  it('persists in batches without being asked, and replays from the disk after a reopen', async () => {
    const bus = open({ flushIntervalMs: 2 });
    const published = publishConsoleLines(bus, 300);
    await waitFor(() => bus.stats().unpersisted === 0, 2000, 'flush');
    expect(bus.stats().persistedSeq).to.equal(300);
    bus.close();

    const reopened = open();
    const collector = new Collector().subscribe(reopened, ['console:board-07'], 0);
    await waitFor(() => collector.live, 2000, 'replay');
    expectExactlyOnceInOrder(
      collector.events,
      published.filter((e) => e.topic === 'console:board-07'),
    );
    expect(collector.events[0]!.payload).to.deep.equal(published.find((e) => e.topic === 'console:board-07')!.payload);
  });

  it('gives a subscriber that resumes from its last sequence number every event exactly once, in order, across replay and live', async () => {
    // A small memory tail, so the replay is served partly from SQLite, partly from memory.
    const bus = open({ memoryEvents: 500, replayPageSize: 200, flushIntervalMs: 1 });
    const all: DaemonEvent[] = [];
    const consoleWatcher = new Collector().subscribe(bus, ['console:*'], 0);
    all.push(...publishConsoleLines(bus, 1000));
    all.push(bus.publish(topics.board('board-01'), 'board.state', { boardId: 'board-01', from: 'off', to: 'booting' }));
    await waitFor(() => consoleWatcher.events.length === 1000, 2000, 'first events');
    consoleWatcher.subscription.close();
    const resumeFrom = consoleWatcher.lastSeq;

    // While it is away: thousands of console lines from 50 boards, and other topics.
    all.push(...publishConsoleLines(bus, 5000, 1000));
    all.push(bus.publish(topics.run('r1'), 'run.started', { runId: 'r1', scenario: 'boot', boardId: 'board-01' }));
    all.push(...publishConsoleLines(bus, 2000, 6000));
    await sleep(20);
    expect(bus.stats().unpersisted).to.equal(0);

    const resumed = new Collector().subscribe(bus, ['console:*'], resumeFrom);
    // Keep publishing while it replays, so the switch to live happens under traffic.
    let publishing = true;
    const publisher = (async () => {
      let n = 8000;
      while (publishing) {
        all.push(...publishConsoleLines(bus, 25, n));
        n += 25;
        await tick();
      }
    })();
    await waitFor(() => resumed.live, 10_000, 'resumed subscriber to catch up');
    all.push(...publishConsoleLines(bus, 100, 100_000));
    publishing = false;
    await publisher;
    all.push(...publishConsoleLines(bus, 100, 200_000));

    const expected = all.filter((e) => e.topic.startsWith('console:') && e.seq > resumeFrom);
    expect(expected.length).to.be.greaterThan(7000);
    await waitFor(() => resumed.events.length >= expected.length, 5000, 'all events');
    await sleep(10);
    expectExactlyOnceInOrder(resumed.events, expected);
    const consoleSeqs = consoleWatcher.seqs();
    expect(new Set([...consoleSeqs, ...resumed.seqs()]).size).to.equal(consoleSeqs.length + resumed.events.length);
  });

  it('filters replay from the disk exactly as it filters live events', async () => {
    const bus = open({ memoryEvents: 10 });
    const mixed: DaemonEvent[] = [];
    for (let i = 0; i < 200; i++) {
      mixed.push(bus.publish(topics.board(`b${i % 4}`), 'board.state', { boardId: `b${i % 4}`, from: null, to: 'ready' }));
      mixed.push(bus.publish(topics.run(`run-${i % 3}`), 'step.started', { runId: `run-${i % 3}`, index: i, name: 's', type: 'wait' }));
      mixed.push(bus.publish(topics.system, 'system', { level: 'info', message: `m${i}` }));
    }
    bus.flush();
    for (const patterns of [['board:*'], ['board:b1', 'run:run-2'], ['*'], ['run:*', 'system'], ['b*']]) {
      const replay = new Collector().subscribe(bus, patterns, 0);
      await waitFor(() => replay.live, 2000, `replay of ${patterns.join(',')}`);
      const matcher = new TopicMatcher(patterns);
      expectExactlyOnceInOrder(
        replay.events,
        mixed.filter((e) => matcher.matches(e.topic)),
      );
      replay.subscription.close();
    }
  });

  it('delivers live events to a live-only subscriber from the next event on', () => {
    const bus = open();
    publishConsoleLines(bus, 10);
    const live = new Collector().subscribe(bus, ['*'], null);
    expect(live.live).to.equal(true);
    const next = publishConsoleLines(bus, 3);
    expectExactlyOnceInOrder(live.events, next);
  });

  it('keeps order when a subscriber publishes from inside its handler', () => {
    const bus = open();
    const seen: number[] = [];
    bus.subscribe({
      onEvent: (event) => {
        if (event.type === 'run.started') bus.publish(topics.system, 'system', { level: 'info', message: 'reaction' });
      },
    });
    bus.subscribe({ onEvent: (event) => seen.push(event.seq) });
    bus.publish(topics.run('r'), 'run.started', { runId: 'r', scenario: 's', boardId: 'b' });
    bus.publish(topics.run('r'), 'run.ended', { runId: 'r', scenario: 's', boardId: 'b', verdict: 'passed', reason: null });
    expect(seen).to.deep.equal([1, 2, 3]);
  });

  it('closes a subscriber that throws without disturbing the publisher or the others', () => {
    const bus = open();
    const good = new Collector().subscribe(bus, ['*'], null);
    const bad = bus.subscribe({
      onEvent: () => {
        throw new Error('subscriber bug');
      },
    });
    publishConsoleLines(bus, 3);
    expect(bad.closed).to.equal(true);
    expect(good.events).to.have.length(3);
  });

  it('refuses bad topics, patterns, cursors and payloads with typed errors', () => {
    const bus = open();
    expect(() => bus.publish('board:*', 'system', { level: 'info', message: 'x' })).to.throw(EventBusError).with.property('code', 'bad-topic');
    expect(() => bus.publish('has space', 'system', { level: 'info', message: 'x' })).to.throw(EventBusError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => bus.publish(topics.system, 'system', { level: 'info', message: 'x', details: circular })).to.throw(EventBusError).with.property('code', 'bad-event-payload');
    expect(() => bus.subscribe({ patterns: ['board:[0-9]'], onEvent: () => undefined })).to.throw(TopicPatternError);
    expect(() => bus.subscribe({ patterns: [], onEvent: () => undefined })).to.throw(TopicPatternError);
    expect(() => bus.subscribe({ since: -1, onEvent: () => undefined })).to.throw(EventBusError).with.property('code', 'bad-since');
    expect(bus.lastSeq).to.equal(0);
  });

  it('keeps only the retained events and tells a subscriber resuming from before them', async () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const bus = open({ retention: { maxEvents: 100, maxAgeMs: 3600_000 }, memoryEvents: 10, now: () => now });
    publishConsoleLines(bus, 250);
    bus.flush();
    expect(bus.prune()).to.equal(150);
    const late = new Collector().subscribe(bus, ['*'], 20);
    await waitFor(() => late.live, 2000, 'replay');
    expect(late.missed).to.deep.equal([{ from: 21, through: 150, reason: 'retention' }]);
    expect(late.events.map((e) => e.seq)).to.deep.equal(Array.from({ length: 100 }, (_, i) => 151 + i));

    now += 2 * 3600_000;
    publishConsoleLines(bus, 5);
    bus.flush();
    bus.prune();
    const fresh = new Collector().subscribe(bus, ['*'], 0);
    await waitFor(() => fresh.live, 2000, 'replay');
    expect(fresh.seqs()).to.deep.equal([251, 252, 253, 254, 255]);
  });

  it('keeps publishing and delivering live while the disk fails, bounded in memory, and reports what it had to drop', async () => {
    const bus = open({ flushIntervalMs: 1, maxUnpersisted: 300 });
    const log = (bus as unknown as { log: EventLog }).log;
    const append = log.append.bind(log);
    log.append = () => {
      throw new Error('disk full');
    };
    const live = new Collector().subscribe(bus, ['*'], null);
    publishConsoleLines(bus, 1000);
    expect(live.events).to.have.length(1000);
    await waitFor(() => bus.stats().lost > 0, 2000, 'a flush attempt');
    expect(bus.stats().unpersisted).to.be.at.most(300);

    log.append = append;
    await waitFor(() => bus.stats().unpersisted === 0, 6000, 'the retry to succeed');
    const { lost, persistedSeq } = bus.stats();
    expect(lost).to.be.at.least(700);
    expect(persistedSeq).to.equal(1000);
    const late = new Collector().subscribe(bus, ['*'], 0);
    await waitFor(() => late.live, 2000, 'replay');
    expect(late.missed).to.deep.equal([{ from: 1, through: lost, reason: 'disk-fault' }]);
    expect(late.seqs()).to.deep.equal(Array.from({ length: 1000 - lost }, (_, i) => lost + 1 + i));
  });

  it('deletes a large retention backlog in chunks, never holding the log for long', () => {
    const bus = open();
    publishConsoleLines(bus, 500);
    bus.close();
    const log = EventLog.open(dir.file('events.sqlite'));
    try {
      const retention = { maxEvents: 100, maxAgeMs: 3600_000 };
      expect(log.prune(retention, Date.now(), 150)).to.deep.equal({ deleted: 150, more: true });
      expect(log.prune(retention, Date.now(), 150)).to.deep.equal({ deleted: 150, more: true });
      expect(log.prune(retention, Date.now(), 150)).to.deep.equal({ deleted: 100, more: false });
      expect(log.prune(retention, Date.now(), 150)).to.deep.equal({ deleted: 0, more: false });
      expect(log.count()).to.equal(100);
      expect(log.meta('pruned_through')).to.equal(400);
    } finally {
      log.close();
    }
  });

  it('publishes 20 seconds of 50 boards x 20 console lines/s without touching the disk, in well under 20 seconds', () => {
    const bus = open();
    const started = process.hrtime.bigint();
    publishConsoleLines(bus, 20_000);
    const publishMs = Number(process.hrtime.bigint() - started) / 1e6;
    // Nothing was written while publishing: persistence happens later, in batches.
    expect(bus.stats().unpersisted).to.equal(20_000);
    bus.flush();
    // ~0.2 s on an idle machine; the bound leaves room for a loaded one.
    expect(publishMs).to.be.lessThan(3000);
    expect(bus.stats()).to.include({ lastSeq: 20_000, persistedSeq: 20_000, unpersisted: 0 });
  });
});
