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
];

interface EventRow {
  seq: number;
  topic: string;
  type: string;
  time_ms: number;
  json: string;
}

/**
 * The event bus's SQLite file. Besides the events it keeps two numbers:
 * `reserved_through`, the highest sequence number the bus may hand out before it
 * writes a larger reservation (so numbers given to live clients are never reused
 * after a crash lost them), and `pruned_through`, the highest number retention has
 * deleted (a subscriber resuming from below it has missed events).
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

  meta(key: 'reserved_through' | 'pruned_through'): number {
    const row = this.db.prepare('SELECT value FROM event_meta WHERE key = ?').get(key) as { value: number } | undefined;
    return row?.value ?? 0;
  }

  /** Writes events (and optionally a new reservation) in one transaction. */
  append(events: readonly LoggedEvent[], reserveThrough?: number): void {
    this.db.transaction(() => {
      for (const { event, timeMs, json } of events) this.insertEvent.run(event.seq, event.topic, event.type, timeMs, json);
      if (reserveThrough !== undefined) this.setMeta.run('reserved_through', reserveThrough);
    })();
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
      return { deleted, more: through < target };
    })();
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
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
