import type winston from 'winston';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { eventJson, type DaemonEvent, type DaemonEventPayloads, type DaemonEventType } from './daemon-event.js';
import { DEFAULT_RETENTION, EventLog, type EventGap, type EventGapReason, type EventRetention, type LoggedEvent } from './event-log.js';
import { isValidTopic, TopicMatcher } from './topic-pattern.js';

export interface EventBusOptions {
  /** The event log's SQLite file (`:memory:` for a bus that forgets at close). */
  path: string;
  /** Unpersisted events are written at most this long after publishing. Default 5 ms. */
  flushIntervalMs?: number;
  /** This many unpersisted events are written at the next turn of the event loop. Default 2000. */
  flushBatchSize?: number;
  /** Recent events kept in memory so replays near the head never touch the disk. Default 20,000. */
  memoryEvents?: number;
  /** While the disk fails, keep at most this many unpersisted events; older ones are lost (and reported as missed, `disk-fault`). Default 200,000. */
  maxUnpersisted?: number;
  /** Keep the last `maxEvents` sequence numbers and nothing older than `maxAgeMs`. */
  retention?: EventRetention;
  /** How often retention runs. Default 60 s. */
  pruneIntervalMs?: number;
  /** Events a replaying subscriber gets per turn of the event loop. Default 500. */
  replayPageSize?: number;
  /** Sequence numbers reserved on disk ahead of use. Default 10,000. */
  reserveBlock?: number;
  /** Largest payload accepted, as JSON. Default 256 KiB. */
  maxPayloadBytes?: number;
  now?: () => number;
  logger?: winston.Logger;
}

export interface SubscribeOptions {
  /** Topic patterns (see topic-pattern.ts). Default `['*']`. */
  patterns?: readonly string[];
  /**
   * Replay every retained event with a larger sequence number, then go live.
   * `null` or absent: live only, from the next event published.
   */
  since?: number | null;
  /** Called once per matching event, in sequence order, never twice for one event. */
  onEvent: (event: DaemonEvent, json: string) => void;
  /** Replay has caught up; from now on events arrive as they are published. */
  onLive?: (cursor: number) => void;
  /**
   * Events in `from..through` that this subscriber asked for cannot be replayed:
   * deleted by retention, lost in a crash of the daemon, or dropped while the
   * disk failed. Called in sequence order among the events (the events before
   * `from` come first), once per range.
   */
  onMissed?: (missed: MissedEvents) => void;
  /** Asked before each replay page; while false the replay waits (a slow consumer's back-pressure). */
  ready?: () => boolean;
}

/** Why a replay cannot deliver a range of sequence numbers. */
export type MissedReason = 'retention' | EventGapReason;

/** A range of sequence numbers a resuming subscriber may have events missing from. */
export interface MissedEvents {
  from: number;
  through: number;
  /**
   * `retention`: deleted as old. `crash`: handed out live, then the daemon died
   * before writing them (the range runs to the end of the crashed run's
   * reserved numbers, as the last one handed out is not known; the rest carry no
   * event). `disk-fault`: dropped while the event log could not be written.
   */
  reason: MissedReason;
}

export interface EventSubscription {
  readonly id: number;
  readonly patterns: readonly string[];
  /** Every matching event up to this sequence number has been delivered. */
  readonly cursor: number;
  /** True once replay has caught up. */
  readonly live: boolean;
  readonly closed: boolean;
  close(): void;
}

export interface EventBusStats {
  lastSeq: number;
  persistedSeq: number;
  unpersisted: number;
  /** Age of the oldest unpersisted event, 0 when none. */
  persistLagMs: number;
  /** Events published since this bus was opened. */
  published: number;
  /** Events lost because the disk failed for too long. */
  lost: number;
  subscribers: number;
  /** The largest number of events any subscriber is behind the head. */
  maxSubscriberLag: number;
}

export class EventBusError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('infra-error', code, message, details, options);
  }
}

const READY_RETRY_MS = 10;

/**
 * The daemon's event bus. Publishing is synchronous and costs a JSON.stringify and
 * an array push: events go to live subscribers at once and to the event log in
 * batches (one SQLite transaction per `flushIntervalMs`), so a slow disk never
 * stalls a publisher.
 *
 * Sequence numbers are strictly increasing across restarts: the bus reserves a
 * block of numbers on disk before handing them out, so after a crash (which may
 * lose the last few milliseconds of unpersisted events) it starts above anything
 * a client could have seen. A clean close continues without a gap. Numbers
 * skipped that were never handed out are not announced; numbers that were (or
 * may have been, see `EventLog.start`) and whose events are gone are gaps, and a
 * subscriber replaying across one is told (`onMissed`), never left with a
 * silent hole.
 *
 * A subscriber from `since` is first fed from the log and the in-memory tail by a
 * pump that moves a cursor, then switches to live delivery in the same turn it
 * reaches the head; live delivery skips what the cursor has passed, so nothing
 * is lost or repeated across the switch.
 */
export class EventBus {
  private readonly log: EventLog;
  private readonly logger: winston.Logger;
  private readonly now: () => number;
  private readonly options: Required<Omit<EventBusOptions, 'path' | 'retention' | 'now' | 'logger'>>;
  private readonly retention: Required<EventRetention>;

  private lastSeqValue: number;
  private reservedThrough: number;
  /** Highest sequence number written to the log, or given up as lost. */
  private handledSeq: number;
  /** Everything up to here is in the log (or gone); everything above is in `recent`. */
  private recentFloor: number;
  private recent: LoggedEvent[] = [];
  private pending: LoggedEvent[] = [];
  private prunedThrough: number;
  /** Handed-out ranges whose events are gone, in order (loaded from the log, plus this run's disk-fault drops). */
  private gaps: EventGap[];
  /** This run's drops not yet recorded in the log. */
  private unrecordedLoss: EventGap | undefined;
  /** The log says events are in flight since the last complete write (see `EventLog.start`). */
  private inFlightMarked = false;

  private readonly subscriptions = new Set<Subscription>();
  private readonly liveSubscriptions = new Set<Subscription>();
  private nextSubscriptionId = 1;
  private deliveryQueue: LoggedEvent[] = [];
  private delivering = false;

  private flushTimer: NodeJS.Timeout | undefined;
  private flushImmediate: NodeJS.Immediate | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private flushFailures = 0;
  private publishedCount = 0;
  private lostCount = 0;
  private closedValue = false;
  private lastTimeMs = Number.NaN;
  private lastTime = '';

  private constructor(log: EventLog, options: EventBusOptions) {
    this.log = log;
    this.logger = options.logger ?? componentLogger('event-bus');
    this.now = options.now ?? Date.now;
    this.options = {
      flushIntervalMs: options.flushIntervalMs ?? 5,
      flushBatchSize: options.flushBatchSize ?? 2000,
      memoryEvents: options.memoryEvents ?? 20_000,
      maxUnpersisted: options.maxUnpersisted ?? 200_000,
      pruneIntervalMs: options.pruneIntervalMs ?? 60_000,
      replayPageSize: options.replayPageSize ?? 500,
      reserveBlock: options.reserveBlock ?? 10_000,
      maxPayloadBytes: options.maxPayloadBytes ?? 256 * 1024,
    };
    this.retention = { ...DEFAULT_RETENTION, ...options.retention };

    const start = log.start(this.options.reserveBlock);
    if (start.crashGap) this.logger.warn('events handed out before a crash were not written; clients resuming across them are told', { ...start.crashGap });
    this.lastSeqValue = start.lastSeq;
    this.handledSeq = this.lastSeqValue;
    this.recentFloor = this.lastSeqValue;
    this.prunedThrough = log.meta('pruned_through');
    this.gaps = log.gapsAfter(this.prunedThrough);
    this.reservedThrough = this.lastSeqValue + this.options.reserveBlock;

    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), this.options.pruneIntervalMs);
    this.pruneTimer.unref();
  }

  static open(options: EventBusOptions): EventBus {
    const log = EventLog.open(options.path);
    try {
      return new EventBus(log, options);
    } catch (error) {
      log.close();
      throw new EventBusError('event-log-unusable', `cannot start the event bus on ${options.path}: ${(error as Error).message}`, { path: options.path }, { cause: error });
    }
  }

  /** The sequence number of the last event published (or reserved before a crash). */
  get lastSeq(): number {
    return this.lastSeqValue;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  /**
   * Publishes an event: returns it with its sequence number once live subscribers
   * have seen it. Throws `EventBusError` for a bad topic or an unserialisable payload.
   */
  publish<T extends DaemonEventType>(topic: string, type: T, payload: DaemonEventPayloads[T]): DaemonEvent<T> {
    if (this.closedValue) throw new EventBusError('event-bus-closed', 'the event bus is closed');
    if (!isValidTopic(topic)) throw new EventBusError('bad-topic', `bad event topic ${JSON.stringify(topic)}`, { topic });
    let payloadJson: string | undefined;
    try {
      payloadJson = JSON.stringify(payload);
    } catch (error) {
      throw new EventBusError('bad-event-payload', `the ${type} payload cannot be serialised: ${(error as Error).message}`, { topic, type }, { cause: error });
    }
    if (payloadJson === undefined || payloadJson.length > this.options.maxPayloadBytes) {
      throw new EventBusError('bad-event-payload', `the ${type} payload is missing or larger than ${this.options.maxPayloadBytes} bytes`, { topic, type });
    }

    const seq = ++this.lastSeqValue;
    if (seq > this.reservedThrough) this.reserveSynchronously(seq);
    if (!this.inFlightMarked) this.markInFlight(seq);
    const timeMs = this.now();
    // Many events share a millisecond; format its time once.
    if (timeMs !== this.lastTimeMs) {
      this.lastTimeMs = timeMs;
      this.lastTime = new Date(timeMs).toISOString();
    }
    const time = this.lastTime;
    const event = Object.freeze({ seq, topic, type, time, payload }) as DaemonEvent<T>;
    const logged: LoggedEvent = { event, json: eventJson(seq, topic, type, time, payloadJson), timeMs };
    this.recent.push(logged);
    this.pending.push(logged);
    this.publishedCount++;
    this.scheduleFlush();
    this.deliver(logged);
    return event;
  }

  subscribe(options: SubscribeOptions): EventSubscription {
    if (this.closedValue) throw new EventBusError('event-bus-closed', 'the event bus is closed');
    const matcher = new TopicMatcher(options.patterns ?? ['*']);
    const since = options.since;
    if (since !== undefined && since !== null && (!Number.isSafeInteger(since) || since < 0)) {
      throw new EventBusError('bad-since', `since must be a sequence number (an integer >= 0), got ${String(since)}`, { since });
    }
    const subscription = new Subscription(this.nextSubscriptionId++, matcher, options, (s) => this.remove(s));
    this.subscriptions.add(subscription);
    if (since === undefined || since === null) {
      subscription.cursor = this.lastSeqValue;
      this.goLive(subscription);
    } else {
      // A cursor from a newer history than this log (state folder replaced): replay all of it.
      subscription.cursor = since > this.lastSeqValue ? 0 : since;
      subscription.gapMark = subscription.cursor;
      setImmediate(() => {
        if (subscription.closed || this.closedValue) return;
        if (subscription.cursor < this.prunedThrough) {
          subscription.notifyMissed({ from: subscription.cursor + 1, through: this.prunedThrough, reason: 'retention' }, this.logger);
          subscription.gapMark = this.prunedThrough;
        }
        this.pump(subscription);
      });
    }
    return subscription;
  }

  /** Writes every unpersisted event now (shutdown, tests). */
  flush(): void {
    this.clearFlushTimers();
    if (this.pending.length === 0 && !this.unrecordedLoss) return;
    const batch = this.pending;
    const last = batch.length ? batch[batch.length - 1]!.event.seq : this.handledSeq;
    const reserve = this.lastSeqValue + this.options.reserveBlock / 2 > this.reservedThrough ? this.lastSeqValue + this.options.reserveBlock : undefined;
    try {
      this.log.append(batch, reserve, this.unrecordedLoss);
      this.pending = [];
      this.handledSeq = last;
      this.unrecordedLoss = undefined;
      this.inFlightMarked = false;
      if (reserve !== undefined) this.reservedThrough = reserve;
      if (this.flushFailures > 0) this.logger.info('event log writable again', { failures: this.flushFailures });
      this.flushFailures = 0;
    } catch (error) {
      this.flushFailures++;
      if (this.flushFailures === 1 || this.flushFailures % 100 === 0) {
        this.logger.error('cannot write the event log; events stay in memory', { error: (error as Error).message, unpersisted: batch.length });
      }
      this.dropOverflowingUnpersisted();
      if (!this.closedValue) {
        this.flushTimer = setTimeout(() => this.flush(), Math.min(5000, 50 * this.flushFailures));
        this.flushTimer.unref();
      }
    }
    this.trimRecent();
  }

  /** Applies retention now; a large backlog is deleted in chunks over the next turns. Returns how many events this call deleted. */
  prune(): number {
    try {
      const { deleted, more } = this.log.prune(this.retention, this.now());
      this.prunedThrough = this.log.meta('pruned_through');
      this.gaps = this.gaps.filter((gap) => gap.through > this.prunedThrough);
      // What retention deleted from the disk is no longer served from memory either.
      let count = 0;
      while (count < this.recent.length && this.recent[count]!.event.seq <= Math.min(this.prunedThrough, this.handledSeq)) count++;
      if (count > 0) {
        this.recentFloor = this.recent[count - 1]!.event.seq;
        this.recent = this.recent.slice(count);
      }
      if (more && !this.closedValue) setTimeout(() => this.closedValue || this.prune(), 0).unref();
      return deleted;
    } catch (error) {
      this.logger.error('cannot apply event retention', { error: (error as Error).message });
      return 0;
    }
  }

  stats(): EventBusStats {
    let maxSubscriberLag = 0;
    for (const s of this.subscriptions) maxSubscriberLag = Math.max(maxSubscriberLag, this.lastSeqValue - s.cursor);
    const oldest = this.pending[0];
    return {
      lastSeq: this.lastSeqValue,
      persistedSeq: this.handledSeq,
      unpersisted: this.pending.length,
      persistLagMs: oldest ? Math.max(0, this.now() - oldest.timeMs) : 0,
      published: this.publishedCount,
      lost: this.lostCount,
      subscribers: this.subscriptions.size,
      maxSubscriberLag,
    };
  }

  /** Persists what is pending, ends every subscription and closes the log. */
  close(): void {
    if (this.closedValue) return;
    this.flush();
    this.closedValue = true;
    clearInterval(this.pruneTimer);
    this.clearFlushTimers();
    for (const s of [...this.subscriptions]) s.close();
    try {
      // A clean stop: the next start continues right after the last event.
      if (this.pending.length === 0) this.log.reserveThrough(this.lastSeqValue);
    } catch (error) {
      this.logger.warn('cannot record the last sequence number', { error: (error as Error).message });
    }
    this.log.close();
  }

  /**
   * The first event since everything was written: say so on disk before anyone
   * can see it, so that a crash before the next batch is known to have lost events.
   */
  private markInFlight(seq: number): void {
    this.inFlightMarked = true;
    try {
      this.log.markUnpersistedFrom(seq);
    } catch (error) {
      // Publishing goes on; only a crash before the next successful write would go unannounced.
      this.logger.error('cannot mark events in flight', { error: (error as Error).message });
    }
  }

  private reserveSynchronously(seq: number): void {
    const through = seq + this.options.reserveBlock;
    try {
      this.log.reserveThrough(through);
    } catch (error) {
      // Publishing goes on; only a crash before the next successful write could reuse numbers.
      this.logger.error('cannot reserve event sequence numbers', { error: (error as Error).message });
    }
    this.reservedThrough = through;
  }

  private scheduleFlush(): void {
    // While the disk fails, the retry timer alone decides when to try again.
    if (this.flushFailures > 0) return;
    if (this.pending.length >= this.options.flushBatchSize) {
      if (!this.flushImmediate) this.flushImmediate = setImmediate(() => this.flush());
      return;
    }
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), this.options.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  private clearFlushTimers(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushTimer = undefined;
    this.flushImmediate = undefined;
  }

  /** The disk has failed for long: give up the oldest unpersisted events so memory stays bounded. */
  private dropOverflowingUnpersisted(): void {
    const excess = this.pending.length - this.options.maxUnpersisted;
    if (excess <= 0) return;
    const dropped = this.pending.splice(0, excess);
    const from = dropped[0]!.event.seq;
    const through = dropped[dropped.length - 1]!.event.seq;
    this.handledSeq = through;
    // Gone from memory too: that is the point, and replays then agree with the missed notice.
    this.recent = this.recent.filter((e) => e.event.seq < from || e.event.seq > through);
    // Drops in one fault are contiguous: one gap, growing, written with the next batch that succeeds.
    const open = this.unrecordedLoss;
    if (open) open.through = through;
    else {
      this.unrecordedLoss = { from, through, reason: 'disk-fault' };
      this.gaps.push(this.unrecordedLoss);
    }
    this.lostCount += excess;
    this.logger.error('event log unwritable for too long: events lost', { lost: excess, from: this.unrecordedLoss!.from, through });
  }

  /**
   * Forgets the oldest in-memory events beyond `memoryEvents`, but never unpersisted
   * ones. Trims only past a quarter over the limit, so the copy is amortised.
   */
  private trimRecent(): void {
    if (this.recent.length <= this.options.memoryEvents * 1.25) return;
    const excess = this.recent.length - this.options.memoryEvents;
    let count = 0;
    while (count < excess && this.recent[count]!.event.seq <= this.handledSeq) count++;
    if (count === 0) return;
    this.recentFloor = this.recent[count - 1]!.event.seq;
    // A new array, so a replay pump holding the old one is never disturbed.
    this.recent = this.recent.slice(count);
  }

  /** Live delivery, never re-entered: an event published by a subscriber is delivered after the current one. */
  private deliver(logged: LoggedEvent): void {
    this.deliveryQueue.push(logged);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let i = 0; i < this.deliveryQueue.length; i++) {
        const next = this.deliveryQueue[i]!;
        for (const subscription of this.liveSubscriptions) subscription.offer(next, this.logger);
      }
    } finally {
      this.deliveryQueue = [];
      this.delivering = false;
    }
  }

  private goLive(subscription: Subscription): void {
    subscription.live = true;
    this.liveSubscriptions.add(subscription);
    subscription.notifyLive(this.logger);
  }

  /** One replay page for a catching-up subscriber, then yield to the event loop. */
  private pump(subscription: Subscription): void {
    if (subscription.closed || this.closedValue) return;
    if (subscription.ready && !subscription.ready()) {
      setTimeout(() => this.pump(subscription), READY_RETRY_MS).unref();
      return;
    }
    const page = this.options.replayPageSize;
    if (subscription.cursor < this.recentFloor) {
      const floor = this.recentFloor;
      let rows: LoggedEvent[];
      try {
        rows = this.log.readAfter(subscription.cursor, floor, subscription.matcher, page);
      } catch (error) {
        this.logger.error('cannot read the event log for a replay', { error: (error as Error).message, subscription: subscription.id });
        subscription.close();
        return;
      }
      for (const row of rows) {
        if (subscription.closed) return;
        this.announceGaps(subscription, row.event.seq);
        subscription.cursor = row.event.seq;
        subscription.emit(row, this.logger);
      }
      if (rows.length < page && !subscription.closed) subscription.cursor = Math.max(subscription.cursor, floor);
    } else {
      const recent = this.recent;
      let index = firstIndexAfter(recent, subscription.cursor);
      let delivered = 0;
      // Scanning non-matching events costs too; bound the work of one turn.
      for (let scanned = 0; index < recent.length && delivered < page && scanned < page * 8; index++, scanned++) {
        if (subscription.closed) return;
        const logged = recent[index]!;
        this.announceGaps(subscription, logged.event.seq);
        subscription.cursor = logged.event.seq;
        if (subscription.matcher.matches(logged.event.topic)) {
          subscription.emit(logged, this.logger);
          delivered++;
        }
      }
    }
    if (subscription.closed || this.closedValue) return;
    // Caught up: switch to live in this same turn, so no event slips between.
    if (subscription.cursor >= this.lastSeqValue) {
      // Gaps above the last event replayed (a crash with nothing published since) are told before live.
      this.announceGaps(subscription, this.lastSeqValue);
      if (!subscription.closed) this.goLive(subscription);
    }
    else setImmediate(() => this.pump(subscription));
  }

  /**
   * Tells a replaying subscriber of every gap that starts at or below `seq` and
   * that it has not passed yet: before the event `seq` is delivered, so the
   * notice sits where the hole is. Whatever a lost event's topic was, it is not
   * known, so every subscriber is told.
   */
  private announceGaps(subscription: Subscription, seq: number): void {
    if (this.gaps.length === 0 || seq <= subscription.gapMark) return;
    for (const gap of this.gaps) {
      if (gap.from > seq) break;
      if (gap.through <= subscription.gapMark) continue;
      subscription.notifyMissed({ from: Math.max(gap.from, subscription.gapMark + 1), through: gap.through, reason: gap.reason }, this.logger);
      subscription.gapMark = gap.through;
      if (subscription.closed) return;
    }
    subscription.gapMark = Math.max(subscription.gapMark, seq);
  }

  private remove(subscription: Subscription): void {
    this.subscriptions.delete(subscription);
    this.liveSubscriptions.delete(subscription);
  }
}

class Subscription implements EventSubscription {
  cursor = 0;
  /** Gaps up to here have been announced or passed (see `EventBus.announceGaps`). */
  gapMark = 0;
  live = false;
  closed = false;
  readonly ready: (() => boolean) | undefined;

  constructor(
    readonly id: number,
    readonly matcher: TopicMatcher,
    private readonly options: SubscribeOptions,
    private readonly onClose: (s: Subscription) => void,
  ) {
    this.ready = options.ready;
  }

  get patterns(): readonly string[] {
    return this.matcher.patterns;
  }

  /** A live event: delivered unless the replay cursor already passed it. */
  offer(logged: LoggedEvent, logger: winston.Logger): void {
    if (this.closed || logged.event.seq <= this.cursor) return;
    this.cursor = logged.event.seq;
    if (this.matcher.matches(logged.event.topic)) this.emit(logged, logger);
  }

  emit(logged: LoggedEvent, logger: winston.Logger): void {
    try {
      this.options.onEvent(logged.event, logged.json);
    } catch (error) {
      // One faulty subscriber must not stop the others or the publisher.
      logger.error('event subscriber failed; closing it', { subscription: this.id, error: (error as Error).message });
      this.close();
    }
  }

  notifyLive(logger: winston.Logger): void {
    this.guard(() => this.options.onLive?.(this.cursor), logger);
  }

  notifyMissed(missed: MissedEvents, logger: winston.Logger): void {
    this.guard(() => this.options.onMissed?.(missed), logger);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }

  private guard(action: () => void, logger: winston.Logger): void {
    try {
      action();
    } catch (error) {
      logger.error('event subscriber failed; closing it', { subscription: this.id, error: (error as Error).message });
      this.close();
    }
  }
}

/** Index of the first event with a sequence number above `seq` (binary search; `recent` is sorted). */
function firstIndexAfter(recent: readonly LoggedEvent[], seq: number): number {
  let low = 0;
  let high = recent.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (recent[mid]!.event.seq <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}
