import { parentPort, workerData } from 'node:worker_threads';
import { countWarnings } from './quiet-warnings.js';
import { Counters, runTarget, type Finding } from './runner.js';
import type { TargetName } from './target.js';
import { loadTarget } from './targets/index.js';

/**
 * One fuzz worker: prepares its target and runs iterations [from, from + iterations)
 * with counters shared with the supervisor (supervise.ts), which watches them
 * and kills this thread if one input never finishes.
 */
export interface WorkerJob {
  target: TargetName;
  seed: number;
  from: number;
  iterations: number;
  hangMs: number;
  outDir: string | undefined;
  counters: SharedArrayBuffer;
  savedSignatures: string[];
}

export type WorkerMessage =
  | { type: 'started' }
  | { type: 'finding'; finding: Finding }
  | { type: 'done'; warnings: number; warningExamples: string[] };

if (!parentPort) throw new Error('bench/fuzz/worker.ts runs in a worker thread (see supervise.ts)');
const port = parentPort;
const job = workerData as WorkerJob;
const warnings = countWarnings();
const prepared = await (await loadTarget(job.target)).prepare();
const post = (message: WorkerMessage): void => port.postMessage(message);
post({ type: 'started' });
await runTarget(prepared, {
  target: job.target,
  seed: job.seed,
  from: job.from,
  iterations: job.iterations,
  hangMs: job.hangMs,
  outDir: job.outDir,
  counters: new Counters(job.counters),
  savedSignatures: new Set(job.savedSignatures),
  onFinding: (finding) => post({ type: 'finding', finding }),
});
await prepared.close?.();
// Warnings are delivered on a later tick: let the last ones arrive before reporting the count.
await new Promise((resolve) => setImmediate(resolve));
post({ type: 'done', warnings: warnings.count, warningExamples: [...warnings.examples] });
