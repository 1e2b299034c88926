import type { Statement } from 'better-sqlite3';
import type { DaemonEvent } from './daemon-event.js';
import { openSqliteFile, type SchemaMigration, type SqliteDatabase } from '../util/sqlite-file.js';
import type { TopicMatcher } from './topic-pattern.js';

/** An event with the JSON text that goes to disk and to clients. */
export interface LoggedEvent {
  readonly event: DaemonEvent;
  /** The whole event as JSON (see `eventJson`). */
  readonly json: string;
  readonly timeMs: number;
}

export interface EventRetention {
  /** Keep at most this many events. Default 1,000,000. */
  maxEvents?: number;
  /** Drop events older than this. Default 7 days. */
  maxAgeMs?: number;
}

export const DEFAULT_RETENTION: Required<EventRetention> = { maxEvents: 1_000_000, maxAgeMs: 7 * 24 * 3600 * 1000 };

const MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    up: (db) => {
      db.exec(`
        CREATE TABLE events (
          seq     INTEGER PRIMARY KEY,
          topic   TEXT NOT NULL,
          type    TEXT NOT NULL,
          time_ms INTEGER NOT NULL,
          -- the whole event as JSON, exactly as clients receive it
          json    TEXT NOT NULL
        );
        CREATE INDEX events_time ON events (time_ms);
        CREATE TABLE event_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      `);
    },
  },
  {
    version: 2,
    up: (db) => {
      // Ranges of sequence numbers handed out to live clients whose events never reached this file.
      db.exec('CREATE TABLE event_gaps (from_seq INTEGER PRIMARY KEY, to_seq INTEGER NOT NULL, reason TEXT NOT NULL)');
    },
  },
];

/** Why events a client may have seen live are not in the log. */
export type EventGapReason = 'crash' | 'disk-fault';

/** Sequence numbers `from..through` that were (or may have been) handed out and whose events are gone. */
export interface EventGap {
  from: number;
  through: number;
  reason: EventGapReason;
}

/** Where a bus starts on this log (see `EventLog.start`). */
export interface LogStart {
  /** The last sequence number that may have been handed out before: the new bus continues above it. */
  lastSeq: number;
  /** The gap the last run's crash left, when events were in flight; already recorded. */
  crashGap: EventGap | undefined;
}

type MetaKey = 'reserved_through' | 'pruned_through' | 'unpersisted_from';

interface EventRow {
  seq: number;
  topic: string;
  type: string;
  time_ms: number;
  json: string;
}

/**
 * The event bus's SQLite file. Besides the events it keeps three numbers:
 * `reserved_through`, the highest sequence number the bus may hand out before it
 * writes a larger reservation (so numbers given to live clients are never reused
 * after a crash lost them); `pruned_through`, the highest number retention has
 * deleted (a subscriber resuming from below it has missed events); and
 * `unpersisted_from`, the first number handed out since the last write that left
 * nothing unwritten (0: nothing in flight). The bus writes it synchronously when
 * the first event after such a write is published, and the next batch clears it
 * in the same transaction, so after a crash it tells "events were in flight from
 * here" apart from "every event handed out is on disk".
 *
 * `event_gaps` lists the ranges handed out whose events are gone (a crash with
 * events in flight, events dropped while the disk failed), so that a client
 * resuming past them is told, however many restarts later.
 */
export class EventLog {
  private readonly db: SqliteDatabase;
  private readonly insertEvent: Statement<[number, string, string, number, string]>;
  private readonly setMeta: Statement<[string, number]>;
  private readonly readStatements = new Map<number, Statement>();

  private constructor(db: SqliteDatabase) {
    this.db = db;
    this.insertEvent = db.prepare('INSERT INTO events (seq, topic, type, time_ms, json) VALUES (?, ?, ?, ?, ?)');
    this.setMeta = db.prepare('INSERT INTO event_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  static open(path: string): EventLog {
    return new EventLog(openSqliteFile(path, { name: 'event log', migrations: MIGRATIONS }));
  }

  /** The highest sequence number persisted. 0 when empty. */
  lastPersistedSeq(): number {
    const row = this.db.prepare('SELECT max(seq) AS seq FROM events').get() as { seq: number | null };
    return row.seq ?? 0;
  }

  meta(key: MetaKey): number {
    return this.metaOrUndefined(key) ?? 0;
  }

  /**
   * Opens a new run of the bus on this log: records the gap a crash left (if
   * events were in flight), reserves `reserveBlock` numbers above everything
   * that may have been handed out, and marks nothing in flight, in one
   * transaction.
   *
   * The rule for a crash: numbers from `unpersisted_from` to the reservation's end
   * are the gap. The last of them really handed out is not known (it was never
   * written), so the gap runs to the reservation's end, and a resuming client is
   * told "from..through may be missing". When nothing was in flight
   * (`unpersisted_from` 0: a clean stop, or a crash after the last batch was
   * written) the numbers skipped up to the reservation's end were never handed
   * out and no gap is recorded. A log from before this mark existed that does
   * not end at its reservation is treated as a crash with everything above the
   * last stored event in flight.
   */
  start(reserveBlock: number): LogStart {
    return this.db.transaction((): LogStart => {
      const persisted = this.lastPersistedSeq();
      const reserved = this.meta('reserved_through');
      const lastSeq = Math.max(persisted, reserved);
      const mark = this.metaOrUndefined('unpersisted_from');
      const inFlightFrom = mark === undefined ? (reserved > persisted ? persisted + 1 : 0) : mark;
      let crashGap: EventGap | undefined;
      if (inFlightFrom > 0 && inFlightFrom <= lastSeq) {
        crashGap = { from: inFlightFrom, through: lastSeq, reason: 'crash' };
        this.insertGap(crashGap);
      }
      this.setMeta.run('reserved_through', lastSeq + reserveBlock);
      this.setMeta.run('unpersisted_from', 0);
      return { lastSeq, crashGap };
    })();
  }

  /** Marks `seq` as the first number handed out with nothing else in flight. */
  markUnpersistedFrom(seq: number): void {
    this.setMeta.run('unpersisted_from', seq);
  }

  /**
   * Writes events, and optionally a new reservation and a gap of events given up
   * while the disk failed, in one transaction; clears the in-flight mark (the bus
   * appends everything it holds).
   */
  append(events: readonly LoggedEvent[], reserveThrough?: number, lost?: EventGap): void {
    this.db.transaction(() => {
      for (const { event, timeMs, json } of events) this.insertEvent.run(event.seq, event.topic, event.type, timeMs, json);
      if (reserveThrough !== undefined) this.setMeta.run('reserved_through', reserveThrough);
      if (lost) this.insertGap(lost);
      this.setMeta.run('unpersisted_from', 0);
    })();
  }

  /** The recorded gaps above `after`, in order. */
  gapsAfter(after: number): EventGap[] {
    const rows = this.db.prepare('SELECT from_seq, to_seq, reason FROM event_gaps WHERE to_seq > ? ORDER BY from_seq').all(after) as Array<{ from_seq: number; to_seq: number; reason: EventGapReason }>;
    return rows.map((row) => ({ from: row.from_seq, through: row.to_seq, reason: row.reason }));
  }

  reserveThrough(seq: number): void {
    this.setMeta.run('reserved_through', seq);
  }

  /** Up to `limit` events with `after < seq <= through` whose topic matches, in order. */
  readAfter(after: number, through: number, matcher: TopicMatcher, limit: number): LoggedEvent[] {
    const globs = matcher.matchesEverything ? [] : matcher.patterns;
    const rows = this.readStatement(globs.length).all(after, through, ...globs, limit) as EventRow[];
    return rows.map(toLoggedEvent);
  }

  /**
   * Deletes what retention no longer keeps, at most `chunk` sequence numbers' worth
   * per call so one call never holds the database for long. "The last N events" is
   * the last N sequence numbers: exact, except that after a crash gap fewer are kept.
   */
  prune(retention: Required<EventRetention>, nowMs: number, chunk = 50_000): { deleted: number; more: boolean } {
    return this.db.transaction(() => {
      const bounds = this.db.prepare('SELECT min(seq) AS low, max(seq) AS high FROM events').get() as { low: number | null; high: number | null };
      if (bounds.low === null || bounds.high === null) return { deleted: 0, more: false };
      let target = bounds.high - retention.maxEvents;
      const oldestKept = this.db.prepare('SELECT max(seq) AS seq FROM events WHERE time_ms < ?').get(nowMs - retention.maxAgeMs) as { seq: number | null };
      if (oldestKept.seq !== null) target = Math.max(target, oldestKept.seq);
      if (target < bounds.low) return { deleted: 0, more: false };
      const through = Math.min(target, bounds.low + chunk - 1);
      const deleted = this.db.prepare('DELETE FROM events WHERE seq <= ?').run(through).changes;
      if (through > this.meta('pruned_through')) this.setMeta.run('pruned_through', through);
      // A gap below what retention deleted is covered by the retention notice.
      this.db.prepare('DELETE FROM event_gaps WHERE to_seq <= ?').run(this.meta('pruned_through'));
      return { deleted, more: through < target };
    })();
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private metaOrUndefined(key: MetaKey): number | undefined {
    const row = this.db.prepare('SELECT value FROM event_meta WHERE key = ?').get(key) as { value: number } | undefined;
    return row?.value;
  }

  private insertGap(gap: EventGap): void {
    // A gap continuing one already recorded (drops in one disk fault) replaces it.
    this.db.prepare('INSERT INTO event_gaps (from_seq, to_seq, reason) VALUES (?, ?, ?) ON CONFLICT (from_seq) DO UPDATE SET to_seq = excluded.to_seq').run(gap.from, gap.through, gap.reason);
  }

  private readStatement(globCount: number): Statement {
    let statement = this.readStatements.get(globCount);
    if (!statement) {
      const topicFilter = globCount === 0 ? '' : ` AND (${Array.from({ length: globCount }, () => 'topic GLOB ?').join(' OR ')})`;
      statement = this.db.prepare(`SELECT seq, topic, type, time_ms, json FROM events WHERE seq > ? AND seq <= ?${topicFilter} ORDER BY seq LIMIT ?`);
      this.readStatements.set(globCount, statement);
    }
    return statement;
  }
}

function toLoggedEvent(row: EventRow): LoggedEvent {
  const event = Object.freeze(JSON.parse(row.json) as DaemonEvent);
  return { event, json: row.json, timeMs: row.time_ms };
}
