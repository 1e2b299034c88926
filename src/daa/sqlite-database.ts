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

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): SqliteDatabase;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
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

/** Opens (creating) a database file, or `:memory:`, in WAL mode with foreign keys on. */
export function openSqlite(path: string): SqliteDatabase {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
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
