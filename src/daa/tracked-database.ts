import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js';

/**
 * The database as the tenant registry and the PKI see it: the same connection,
 * but every statement run (and every exec or pragma) calls `onWrite` and moves
 * the appraisal generation (schema step 3) in the same transaction, after the
 * write. The attestation path caches what it reads of tenants, devices and CAs
 * (AppraisalCache): `onWrite` tells the cache of this process, the generation
 * tells every other process working on the same state folder. After the
 * write, never before: a reader that sees the new generation sees the write.
 */
export function trackWrites(db: SqliteDatabase, onWrite: () => void): SqliteDatabase {
  let bump: SqliteStatement | undefined;
  const wrote = () => {
    onWrite();
    // Prepared on first use: the migration that creates the table runs before any write.
    bump ??= db.prepare('UPDATE appraisal_generation SET value = value + 1');
    bump.run();
  };
  const tracked: SqliteDatabase = {
    prepare(sql: string): SqliteStatement {
      const statement = db.prepare(sql);
      return {
        run: (...params) => {
          const result = statement.run(...params);
          wrote();
          return result;
        },
        get: (...params) => statement.get(...params),
        all: (...params) => statement.all(...params),
      };
    },
    exec(sql: string) {
      db.exec(sql);
      wrote();
      return tracked;
    },
    pragma(source, options) {
      const result = db.pragma(source, options);
      wrote();
      return result;
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
    get open() {
      return db.open;
    },
  };
  return tracked;
}
