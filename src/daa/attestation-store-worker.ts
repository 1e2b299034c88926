import { parentPort, workerData } from 'node:worker_threads';
import { AttestationRecords, type AttestationWrite, type AttestationWriteResult } from './attestation-records.js';
import { batchTransaction, type Outcome } from './batch-transaction.js';
import { openDaaDatabase } from './daa-schema.js';
import type { StoreReply, StoreRequest } from './attestation-store.js';

/**
 * The DAA service's storage thread: its own connection to the state folder's
 * database, committing the batches of attestation outcomes the service thread
 * sends, one transaction per batch, in the order they come. See
 * attestation-store.ts.
 */
const port = parentPort!;
const { stateDir } = workerData as { stateDir: string };
const db = openDaaDatabase(stateDir);
const records = new AttestationRecords(db);
const commit = batchTransaction(db, (item: AttestationWrite) => records.write(item));

port.on('message', (request: StoreRequest) => {
  if (request.kind === 'close') {
    db.close();
    port.postMessage({ kind: 'closed' } satisfies StoreReply);
    port.close();
    return;
  }
  let reply: StoreReply;
  try {
    const outcomes = commit(request.items).map((outcome): Outcome<AttestationWriteResult> => (outcome.ok ? outcome : { ok: false, error: portableError(outcome.error) }));
    reply = { kind: 'committed', batch: request.batch, outcomes };
  } catch (error) {
    reply = { kind: 'failed', batch: request.batch, error: portableError(error) };
  }
  port.postMessage(reply);
});
port.postMessage({ kind: 'ready' } satisfies StoreReply);

/** An error as data: the message and SQLite's code survive the trip to the service thread. */
function portableError(error: unknown): { message: string; code?: string } {
  const { message, code } = error as { message?: unknown; code?: unknown };
  return { message: typeof message === 'string' ? message : String(error), ...(typeof code === 'string' ? { code } : {}) };
}
