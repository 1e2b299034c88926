import type Database from 'better-sqlite3';

/**
 * A connection as the tenant registry and the PKI see it: prepared statements
 * (`run`, `get`, `all`) and transactions, nothing more. This is narrower than
 * better-sqlite3's `Database` on purpose, not for want of typings: they are
 * handed the tracked handle below, which must see every write they make, so
 * whatever could write around it (`exec`, `pragma`, a statement's `iterate`...)
 * is out of their reach. A plain connection is one too (LocalPki's counters).
 */
export interface TrackedDatabase {
  prepare(sql: string): TrackedStatement;
  transaction: Database.Database['transaction'];
}

export type TrackedStatement = Pick<Database.Statement, 'run' | 'get' | 'all'>;

/**
 * The database as the tenant registry and the PKI see it: the same connection,
 * but every statement run calls `onWrite` and moves the appraisal generation
 * (schema step 3) in the same transaction, after the write. The attestation
 * path caches what it reads of tenants, devices and CAs (AppraisalCache):
 * `onWrite` tells the cache of this process, the generation
 * tells every other process working on the same state folder. After the
 * write, never before: a reader that sees the new generation sees the write.
 */
export function trackWrites(db: Database.Database, onWrite: () => void): TrackedDatabase {
  let bump: Database.Statement | undefined;
  return {
    prepare(sql: string): TrackedStatement {
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
    transaction: (fn) => db.transaction(fn),
  };
}

/** Prepared statements by SQL text, compiled once per connection: preparing costs more than running. */
export function statementCache(db: TrackedDatabase): (sql: string) => TrackedStatement {
  const cache = new Map<string, TrackedStatement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}
