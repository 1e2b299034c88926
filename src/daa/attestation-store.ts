import type Database from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker.js';
import { AttestationRecords, type AttestationWrite, type AttestationWriteResult } from './attestation-records.js';
import { batchTransaction, type Outcome } from './batch-transaction.js';
import { DaaError } from './daa-error.js';

/**
 * Where the batches of attestation outcomes are committed. For a database in
 * a state folder: a storage thread with its own connection
 * (attestation-store-worker.ts), so that the service thread, which parses,
 * appraises, verifies and signs, never waits for SQLite on the attestation
 * path; the answers still go out only once their batch has committed. For an
 * in-memory database, which no second connection can open: on the service's
 * own connection, synchronously.
 *
 * Should the storage thread stop, the batches it held fail (their attestations
 * are answered with an error, never as issued) and the next batch starts a new
 * one.
 */
export type StoreRequest = { kind: 'commit'; batch: number; items: readonly AttestationWrite[] } | { kind: 'close' };
export type StoreReply =
  | { kind: 'ready' }
  | { kind: 'committed'; batch: number; outcomes: Array<Outcome<AttestationWriteResult>> }
  | { kind: 'failed'; batch: number; error: PortableError }
  | { kind: 'closed' };

interface PortableError {
  message: string;
  code?: string;
}

type Commit = (items: readonly AttestationWrite[]) => Array<Outcome<AttestationWriteResult>> | Promise<Array<Outcome<AttestationWriteResult>>>;

export interface AttestationStore {
  commit: Commit;
  close(): Promise<void>;
}

export async function openAttestationStore(stateDir: string, db: Database.Database): Promise<AttestationStore> {
  if (stateDir === ':memory:') {
    const records = new AttestationRecords(db);
    return { commit: batchTransaction(db, (item: AttestationWrite) => records.write(item)), close: async () => undefined };
  }
  const store = new StorageThread(stateDir);
  await store.started();
  return store;
}

interface InFlight {
  resolve: (outcomes: Array<Outcome<AttestationWriteResult>>) => void;
  reject: (error: unknown) => void;
}

class StorageThread implements AttestationStore {
  readonly #stateDir: string;
  #worker: Promise<Worker> | undefined;
  #nextBatch = 1;
  readonly #inFlight = new Map<number, InFlight>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  started(): Promise<Worker> {
    this.#worker ??= this.#start();
    return this.#worker;
  }

  commit: Commit = async (items) => {
    const worker = await this.started();
    const batch = this.#nextBatch++;
    const committed = new Promise<Array<Outcome<AttestationWriteResult>>>((resolve, reject) => this.#inFlight.set(batch, { resolve, reject }));
    if (this.#inFlight.size === 1) worker.ref();
    worker.postMessage({ kind: 'commit', batch, items } satisfies StoreRequest);
    return committed;
  };

  async close(): Promise<void> {
    const started = this.#worker;
    this.#worker = undefined;
    if (!started) return;
    const worker = await started.catch(() => undefined);
    if (!worker) return;
    worker.ref();
    // Sent after every batch: the thread answers those first, then closes its connection.
    const closed = new Promise<void>((resolve) => {
      worker.on('message', (reply: StoreReply) => reply.kind === 'closed' && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ kind: 'close' } satisfies StoreRequest);
    await closed;
    await worker.terminate();
  }

  #start(): Promise<Worker> {
    // Run from the sources (tests, benches), the storage thread's module is TypeScript too.
    const module = new URL(`./attestation-store-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
    const worker = startModuleWorker(module, { workerData: { stateDir: this.#stateDir } });
    let stoppedAlready = false;
    const starting = new Promise<Worker>((resolve, reject) => {
      // 'error' is followed by 'exit': handle the thread's end once.
      const stopped = (why: string) => {
        if (stoppedAlready) return;
        stoppedAlready = true;
        const error = new DaaError('daa-storage-stopped', 500, `the DAA storage thread stopped: ${why}`);
        reject(error);
        // The next batch starts a new thread (unless one already replaced this one).
        if (this.#worker === starting) this.#worker = undefined;
        for (const [batch, waiting] of this.#inFlight) {
          this.#inFlight.delete(batch);
          waiting.reject(error);
        }
      };
      worker.on('message', (reply: StoreReply) => {
        if (reply.kind === 'ready') {
          worker.unref();
          resolve(worker);
          return;
        }
        if (reply.kind !== 'committed' && reply.kind !== 'failed') return;
        const waiting = this.#inFlight.get(reply.batch);
        this.#inFlight.delete(reply.batch);
        if (this.#inFlight.size === 0) worker.unref();
        if (!waiting) return;
        if (reply.kind === 'failed') waiting.reject(fromPortable(reply.error));
        else waiting.resolve(reply.outcomes.map((outcome) => (outcome.ok ? outcome : { ok: false, error: fromPortable(outcome.error as PortableError) })));
      });
      worker.once('error', (error) => stopped(error.message));
      worker.once('exit', (code) => stopped(`exit code ${code}`));
    });
    return starting;
  }
}

function fromPortable(portable: PortableError): Error {
  return Object.assign(new Error(portable.message), portable.code ? { code: portable.code } : {});
}
