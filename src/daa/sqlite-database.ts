import { createRequire } from 'node:module';

/**
 * better-sqlite3 ships no TypeScript types and the project adds no @types
 * package, so this file loads it through `require` and describes the small part
 * of its API the DAA store uses. Calls are synchronous: a statement runs to the
 * end before the event loop moves on, which is what keeps check-then-insert
 * sequences (a certificate key used once) free of races.
 */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** A transaction function: BEGIN (deferred) when called; `.immediate` takes the write lock at BEGIN. Called inside another, a savepoint. */
export interface SqliteTransaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): SqliteDatabase;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R>;
  close(): void;
  readonly open: boolean;
}

interface SqliteConstructor {
  new (path: string, options?: { timeout?: number; fileMustExist?: boolean }): SqliteDatabase;
}

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as SqliteConstructor;

/** How long a statement waits for a lock held by another process (the CLI beside a running service). */
const BUSY_TIMEOUT_MS = 5000;
/** 40 MB of 4 KiB pages; the file is truncated back to WAL_SIZE_LIMIT_BYTES after a checkpoint. */
const WAL_CHECKPOINT_PAGES = 10_000;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Opens (creating) a database file, or `:memory:`, in WAL mode with foreign keys on. */
export function openSqlite(path: string): SqliteDatabase {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  if (path !== ':memory:') {
    db.pragma('journal_mode = WAL');
    // Checkpoint every WAL_CHECKPOINT_PAGES rather than 1000: attestations rewrite the same index
    // leaves commit after commit, and a checkpoint copies each page once however often the WAL has it.
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  }
  // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt the file.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Prepared statements by SQL text, compiled once per connection: preparing costs more than running. */
export function statementCache(db: SqliteDatabase): (sql: string) => SqliteStatement {
  const cache = new Map<string, SqliteStatement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}
