import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RigError } from '../util/failure.js';

export type SqliteDatabase = Database.Database;

/** A step from schema version `version - 1` to `version`, run inside one transaction. */
export interface SchemaMigration {
  version: number;
  up: (db: SqliteDatabase) => void;
}

export interface OpenSqliteOptions {
  /** What the file holds, for error messages (`run store`, `event log`). */
  name: string;
  migrations: readonly SchemaMigration[];
  /** How long a statement waits for another connection's lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** The daemon's state files cannot be opened or were written by a newer sphere-rig. */
export class SqliteStateError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('infra-error', code, message, details, options);
  }
}

/**
 * Opens one of the daemon's SQLite files in WAL mode and brings its schema to the
 * newest version. WAL plus one transaction per logical write means a SIGKILL at any
 * moment leaves the last committed state; `synchronous=NORMAL` only risks the last
 * transactions on an OS crash, which the daemon accepts for throughput.
 * The schema version lives in `PRAGMA user_version`.
 */
export function openSqliteFile(path: string, options: OpenSqliteOptions): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: SqliteDatabase;
  try {
    db = new Database(path);
  } catch (error) {
    throw new SqliteStateError('state-file-unreadable', `cannot open the ${options.name} at ${path}: ${(error as Error).message}`, { path }, { cause: error });
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, path, options);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof RigError) throw error;
    throw new SqliteStateError('state-file-unreadable', `cannot use the ${options.name} at ${path}: ${(error as Error).message}`, { path }, { cause: error });
  }
}

function migrate(db: SqliteDatabase, path: string, options: OpenSqliteOptions): void {
  const newest = options.migrations.reduce((max, m) => Math.max(max, m.version), 0);
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
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
