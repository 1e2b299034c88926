import type { Outcome } from './batch-transaction.js';

/**
 * Group commit: the writes of several requests go into one transaction. A
 * commit costs more than the writes it commits (it appends the WAL frames,
 * takes and drops the write lock), so sharing it among the attestations that
 * arrive together removes the largest per-attestation cost after ECDSA.
 *
 * Items are queued here and handed to `commit` as a batch: a function that
 * applies them in one transaction, each in a savepoint of its own (see
 * batch-transaction.ts), synchronously on this thread or on another (the DAA
 * service's storage thread, attestation-store.ts). Promises settle only after
 * the batch has committed (or failed as a whole), so a caller that answers
 * when its promise resolves never answers something a crash could still lose.
 * Batches are committed in the order they were cut; a new one may be cut while
 * the last is still committing elsewhere.
 *
 * A batch is cut when it reaches `maxItems`, else `maxDelayMs` after its first
 * item (0: once the event loop has handled what already arrived), or on
 * `flush()` / `close()`.
 */
export interface GroupCommitOptions<I, R> {
  /** Items committed together at most; reaching it cuts the batch at once. */
  maxItems: number;
  /** How long the first item of a batch waits for company, ms; 0: until setImmediate. */
  maxDelayMs: number;
  /** Commits a batch: one outcome per item, in order; throws (or rejects) when the batch as a whole did not commit. */
  commit: (items: readonly I[]) => Array<Outcome<R>> | Promise<Array<Outcome<R>>>;
}

interface Queued<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<I, R> {
  readonly #options: GroupCommitOptions<I, R>;
  #queue: Array<Queued<I, R>> = [];
  #cancelTimer: (() => void) | undefined;
  #closed = false;
  #batches = 0;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: GroupCommitOptions<I, R>) {
    this.#options = options;
  }

  /** Queues an item; resolves with its result once the batch holding it has committed. */
  enqueue(item: I): Promise<R> {
    if (this.#closed) return Promise.reject(new Error('the database is closed'));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#options.maxItems) this.flush();
      else if (this.#cancelTimer === undefined) this.#cancelTimer = this.#schedule();
    });
  }

  /** Cuts a batch of what is queued now and commits it (synchronously, if `commit` is). */
  flush(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    let outcomes: Array<Outcome<R>> | Promise<Array<Outcome<R>>>;
    try {
      outcomes = this.#options.commit(batch.map((queued) => queued.item));
    } catch (error) {
      this.#fail(batch, error);
      return;
    }
    if (Array.isArray(outcomes)) {
      this.#settle(batch, outcomes);
      return;
    }
    const done = outcomes.then(
      (settled) => this.#settle(batch, settled),
      (error: unknown) => this.#fail(batch, error),
    );
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
  }

  /** Commits what is queued, waits for the batches still committing, then refuses further items. */
  async close(): Promise<void> {
    this.flush();
    this.#closed = true;
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** Items queued and not yet cut into a batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Batches committed so far (for tests and the bench). */
  get batches(): number {
    return this.#batches;
  }

  #settle(batch: ReadonlyArray<Queued<I, R>>, outcomes: ReadonlyArray<Outcome<R>>): void {
    this.#batches++;
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i];
      if (!outcome) batch[i]!.reject(new Error(`the commit answered ${outcomes.length} outcomes for a batch of ${batch.length}`));
      else if (outcome.ok) batch[i]!.resolve(outcome.value);
      else batch[i]!.reject(outcome.error);
    }
  }

  /** Nothing of the batch is durable: every item fails, including those that ran. */
  #fail(batch: ReadonlyArray<Queued<I, R>>, error: unknown): void {
    for (const queued of batch) queued.reject(error);
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
