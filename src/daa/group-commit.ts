import type { SqliteDatabase } from './sqlite-database.js';

/**
 * Group commit: the writes of several requests go into one SQLite transaction.
 * A commit costs more than the writes it commits (it appends and syncs the WAL
 * frame, takes and drops the write lock), so sharing it among the attestations
 * that arrive together removes the largest per-attestation cost after ECDSA.
 *
 * Each queued write is a synchronous function, run at flush time inside the
 * batch's transaction, in its own savepoint: a write that throws is undone
 * alone and its promise rejects; the others still commit. Promises settle only
 * after the batch has committed (or failed as a whole), so a caller that
 * answers when its promise resolves never answers something a crash could
 * still lose, and whatever it answered is visible to every reader.
 *
 * A batch flushes when it reaches `maxItems`, else `maxDelayMs` after its first
 * write (0: once the event loop has handled what already arrived), or on
 * `flush()` / `close()`. The transaction is IMMEDIATE: the write lock is taken
 * at BEGIN, so checks a write makes against the database (another process may
 * write the same file) and the write itself see the same state.
 */
export interface GroupCommitOptions {
  /** Writes committed together at most; reaching it flushes at once. */
  maxItems: number;
  /** How long the first write of a batch waits for company, ms; 0: until setImmediate. */
  maxDelayMs: number;
}

interface Queued {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  readonly #db: SqliteDatabase;
  readonly #options: GroupCommitOptions;
  readonly #runBatch: (batch: readonly Queued[]) => Outcome[];
  readonly #runOne: (write: () => unknown) => unknown;
  #queue: Queued[] = [];
  #cancelTimer: (() => void) | undefined;
  #closed = false;
  #batches = 0;

  constructor(db: SqliteDatabase, options: GroupCommitOptions) {
    this.#db = db;
    this.#options = options;
    // Compiled once: better-sqlite3 turns a transaction function called inside another into a savepoint.
    this.#runOne = db.transaction((write: () => unknown) => write());
    const batch = db.transaction((queued: readonly Queued[]) =>
      queued.map((item): Outcome => {
        try {
          return { ok: true, value: this.#runOne(item.write) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
    this.#runBatch = (queued) => batch.immediate(queued);
  }

  /** Queues a write; resolves with its result once the batch holding it has committed. */
  enqueue<T>(write: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the database is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length >= this.#options.maxItems) this.flush();
      else if (this.#cancelTimer === undefined) this.#cancelTimer = this.#schedule();
    });
  }

  /** Commits what is queued now, synchronously. */
  flush(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    let outcomes: Outcome[];
    try {
      if (!this.#db.open) throw new Error('the database is closed');
      outcomes = this.#runBatch(batch);
    } catch (error) {
      // Nothing of the batch is durable: every write fails, including those that ran.
      for (const item of batch) item.reject(error);
      return;
    }
    this.#batches++;
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) batch[i]!.resolve(outcome.value);
      else batch[i]!.reject(outcome.error);
    }
  }

  /** Flushes, then refuses further writes. The database itself is the caller's to close. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  /** Writes queued and not yet committed. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Batches committed so far (for tests and the bench). */
  get batches(): number {
    return this.#batches;
  }

  #schedule(): () => void {
    if (this.#options.maxDelayMs <= 0) {
      const immediate = setImmediate(() => this.flush());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.flush(), this.#options.maxDelayMs);
    return () => clearTimeout(timer);
  }
}
