import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js';

/**
 * The database as the tenant registry and the PKI see it: the same connection,
 * but every statement run calls `onWrite` and moves the appraisal generation
 * (schema step 3) in the same transaction, after the write. The attestation
 * path caches what it reads of tenants, devices and CAs (AppraisalCache):
 * `onWrite` tells the cache of this process, the generation
 * tells every other process working on the same state folder. After the
 * write, never before: a reader that sees the new generation sees the write.
 */
export function trackWrites(db: SqliteDatabase, onWrite: () => void): SqliteDatabase {
  let bump: SqliteStatement | undefined;
  const tracked: SqliteDatabase = {
    prepare(sql: string): SqliteStatement {
      const statement = db.prepare(sql);
      // One transaction (a savepoint inside another): a reader never sees the write without the bump.
      const runAndBump = db.transaction((params: unknown[]) => {
        const result = statement.run(...params);
        // Prepared on first use: the migration that creates the table runs before any write.
        bump ??= db.prepare('UPDATE appraisal_generation SET value = value + 1');
        bump.run();
        return result;
      });
      return {
        run: (...params) => {
          const result = runAndBump(params);
          onWrite();
          return result;
        },
        get: (...params) => statement.get(...params),
        all: (...params) => statement.all(...params),
      };
    },
    // The registry and the PKI write through prepared statements only; anything else on this handle is refused, not left untracked.
    exec() {
      throw new Error('the tracked DAA handle takes prepared statements only');
    },
    pragma() {
      throw new Error('the tracked DAA handle takes prepared statements only');
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
    get open() {
      return db.open;
    },
  };
  return tracked;
}
