import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RigError } from './failure.js';

export type SqliteDatabase = Database.Database;

/** A step from schema version `version - 1` to `version`, run inside one transaction. */
export interface SchemaMigration {
  version: number;
  up: (db: SqliteDatabase) => void;
}

export interface OpenSqliteOptions {
  /** What the file holds, for error messages (`run store`, `event log`, `DAA database`). */
  name: string;
  /** Every step ever shipped; a step is never edited once shipped: a change is a new step. */
  migrations: readonly SchemaMigration[];
  /** How long a statement waits for another connection's lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** More pragmas (`wal_autocheckpoint = 10000`), set after the defaults and before the migrations. */
  pragmas?: readonly string[];
}

/** A SQLite state file cannot be opened or was written by a newer sphere-rig. */
export class SqliteStateError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('infra-error', code, message, details, options);
  }
}

/**
 * Opens (creating) a SQLite file, or `:memory:`, in WAL mode with foreign keys
 * on, and brings its schema to the newest version. WAL plus one transaction per
 * logical write means a SIGKILL at any moment leaves the last committed state;
 * `synchronous=NORMAL` only risks the last transactions on an OS crash (never
 * the file), which the rig accepts for throughput. The schema version lives in
 * `PRAGMA user_version`; a file at a version above the newest step is refused
 * (`state-file-too-new`), anything that cannot be opened or read as SQLite is
 * `state-file-unreadable`; both name the file and leave it untouched.
 */
export function openSqliteFile(path: string, options: OpenSqliteOptions): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (error) {
    throw new SqliteStateError('state-file-unreadable', `cannot open the ${options.name} at ${path}: ${(error as Error).message}`, { path }, { cause: error });
  }
  try {
    // First: setting WAL takes a lock another connection may hold.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    for (const pragma of options.pragmas ?? []) db.pragma(pragma);
    migrate(db, path, options);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof RigError) throw error;
    throw new SqliteStateError('state-file-unreadable', `cannot use the ${options.name} at ${path}: ${(error as Error).message}`, { path }, { cause: error });
  }
}

/** Runs the steps above the file's version in order, each with its `user_version` in one transaction: a step that throws leaves the version before it. */
function migrate(db: SqliteDatabase, path: string, options: OpenSqliteOptions): void {
  const versions = options.migrations.map((m) => m.version).sort((a, b) => a - b);
  // A gap would be skipped for good by files already past it, a duplicate silently: the list must be 1..n.
  if (versions.some((version, i) => version !== i + 1)) {
    throw new Error(`the ${options.name}'s migrations must be numbered 1..${versions.length} once each, got ${versions.join(', ')}`);
  }
  const newest = versions.length;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > newest) {
    throw new SqliteStateError(
      'state-file-too-new',
      `the ${options.name} at ${path} has schema version ${current}; this sphere-rig knows up to ${newest}`,
      { path, version: current, known: newest },
    );
  }
  const pending = options.migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    // IMMEDIATE takes the write lock first; the version is read again under it, so of two processes
    // opening an old file together, the second skips the steps the first has just applied.
    db.transaction(() => {
      if ((db.pragma('user_version', { simple: true }) as number) >= migration.version) return;
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}
