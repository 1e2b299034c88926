import type Database from 'better-sqlite3';

/** What one item of a batch came to: its value, or the error that undid it. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * One IMMEDIATE transaction over a batch of items, each applied in a savepoint
 * of its own: an item that throws is undone alone and reported, the others
 * still commit. If the transaction itself fails (BEGIN or COMMIT), the call
 * throws and nothing of the batch is durable. IMMEDIATE takes the write lock at
 * BEGIN, so the checks an item makes against the database (another process may
 * write the same file) and its writes see the same state.
 */
export function batchTransaction<I, R>(db: Database.Database, apply: (item: I) => R): (items: readonly I[]) => Array<Outcome<R>> {
  // better-sqlite3 turns a transaction function called inside another into a savepoint.
  const one = db.transaction((item: I) => apply(item));
  const batch = db.transaction((items: readonly I[]) =>
    items.map((item): Outcome<R> => {
      try {
        return { ok: true, value: one(item) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
  return (items) => batch.immediate(items);
}
