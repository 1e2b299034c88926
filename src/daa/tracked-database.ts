import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js';

/**
 * The database as the tenant registry and the PKI see it: the same connection,
 * but every statement run (and every exec or pragma) first calls `onWrite`.
 * The attestation path caches what it reads of tenants, devices and CAs
 * (AppraisalCache); this is how it learns that this process changed them.
 * Writes by other processes show in `PRAGMA data_version` instead.
 */
export function trackWrites(db: SqliteDatabase, onWrite: () => void): SqliteDatabase {
  const tracked: SqliteDatabase = {
    prepare(sql: string): SqliteStatement {
      const statement = db.prepare(sql);
      return {
        run: (...params) => {
          onWrite();
          return statement.run(...params);
        },
        get: (...params) => statement.get(...params),
        all: (...params) => statement.all(...params),
      };
    },
    exec(sql: string) {
      onWrite();
      db.exec(sql);
      return tracked;
    },
    pragma(source, options) {
      onWrite();
      return db.pragma(source, options);
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
    get open() {
      return db.open;
    },
  };
  return tracked;
}
