import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startModuleWorker } from '../../src/util/module-worker.js';
import { randomFor } from './random.js';
import { Counters, saveFinding, Slot, type Finding } from './runner.js';
import type { PreparedTarget, TargetName } from './target.js';
import { loadTarget } from './targets/index.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

/**
 * Runs a target's iterations in a worker thread and watches it: a worker whose
 * current input has not finished after `watchdogMs` is terminated (a true hang: a
 * loop that never returns, a promise that never settles), the input is
 * regenerated here from (seed, iteration) and saved as a hang, and a new worker
 * carries on after it. A worker that dies (an uncaught exception from a callback
 * a parser scheduled, an out-of-memory) is handled the same way, as a crash of
 * the input it was running. Watching costs the loop nothing: it only stores the
 * current iteration number in shared memory.
 *
 * The iterations are split into `workers` contiguous ranges, each run by its own
 * supervised worker at the same time (`--workers`, default 1): the parsers are
 * single-threaded and the input of an iteration depends only on (seed,
 * iteration), so the same run fuzzes the same inputs, in a fraction of the time
 * on a machine with idle cores (on one whose cores are busy it gains nothing).
 */
export interface SuperviseOptions {
  target: TargetName;
  seed: number;
  iterations: number;
  hangMs: number;
  watchdogMs: number;
  outDir: string | undefined;
  onFinding?(finding: Finding): void;
  /** About every `progressMs` while the worker runs. */
  onProgress?(counters: Counters, loopSeconds: number): void;
  progressMs?: number;
  /** Worker threads at once; default 1. */
  workers?: number;
}

export interface SuperviseResult {
  counters: Counters;
  /** Seconds the workers spent in their loops (preparation excluded). */
  loopSeconds: number;
  findings: Finding[];
  workersStarted: number;
  warnings: number;
  warningExamples: string[];
}

type SegmentEnd =
  | { kind: 'done'; warnings: number; warningExamples: string[] }
  | { kind: 'stuck'; iteration: number; why: string }
  | { kind: 'died'; iteration: number; error: unknown };

const POLL_MS = 200;

export async function runSupervised(options: SuperviseOptions): Promise<SuperviseResult> {
  const workers = Math.max(1, Math.min(options.workers ?? 1, availableParallelism() * 2, options.iterations));
  const savedSignatures = new Set<string>();
  const findings: Finding[] = [];
  const rangeCounters = Array.from({ length: workers }, () => new Counters());
  const total = new Counters();
  const sum = (): Counters => {
    for (const slot of [Slot.Done, Slot.Accepted, Slot.Rejected, Slot.Crashes, Slot.Hangs, Slot.Slow, Slot.Runs]) {
      total.ints[slot] = rangeCounters.reduce((n, c) => n + c.get(slot), 0);
    }
    total.floats[0] = Math.max(...rangeCounters.map((c) => c.maxMs));
    return total;
  };
  const started = performance.now();
  const share = Math.ceil(options.iterations / workers);
  const results = await Promise.all(
    rangeCounters.map((counters, i) =>
      // One range reports progress for all.
      superviseRange({ ...options, onProgress: i === 0 ? () => options.onProgress?.(sum(), (performance.now() - started) / 1000) : undefined }, counters, i * share, Math.min(options.iterations, (i + 1) * share), savedSignatures, (finding) => {
        findings.push(finding);
        options.onFinding?.(finding);
      }),
    ),
  );
  sum();
  // The ranges ran side by side: the loop took as long as the slowest of them.
  const loopSeconds = Math.max(...results.map((r) => r.loopSeconds));
  total.floats[1] = loopSeconds;
  return {
    counters: total,
    loopSeconds,
    findings,
    workersStarted: results.reduce((n, r) => n + r.workersStarted, 0),
    warnings: results.reduce((n, r) => n + r.warnings, 0),
    warningExamples: [...new Set(results.flatMap((r) => r.warningExamples))],
  };
}

/** Iterations [from, end) in a worker, restarted after the input that hung or killed it. */
async function superviseRange(
  options: SuperviseOptions,
  counters: Counters,
  start: number,
  end: number,
  savedSignatures: Set<string>,
  onFinding: (finding: Finding) => void,
): Promise<Omit<SuperviseResult, 'counters' | 'findings'>> {
  let from = start;
  let loopSeconds = 0;
  let workersStarted = 0;
  let warnings = 0;
  const warningExamples = new Set<string>();
  let mainTarget: PreparedTarget | undefined;

  const noteFinding = (finding: Finding): void => {
    if (finding.file) savedSignatures.add(`${finding.kind}:${finding.signature}`);
    onFinding(finding);
  };

  while (from < end) {
    workersStarted++;
    const segment = await runSegment(options, counters, from, end - from, [...savedSignatures], noteFinding, (seconds) => options.onProgress?.(counters, loopSeconds + seconds));
    loopSeconds += segment.loopSeconds;
    const outcome = segment.end;
    if (outcome.kind === 'done') {
      warnings += outcome.warnings;
      for (const example of outcome.warningExamples) warningExamples.add(example);
      break;
    }
    // The input that hung or killed the worker: counted, regenerated and saved here, then skipped.
    const iteration = outcome.iteration;
    mainTarget ??= await (await loadTarget(options.target)).prepare();
    const input = mainTarget.generate(randomFor(options.seed, iteration));
    const isHang = outcome.kind === 'stuck';
    counters.ints[isHang ? Slot.Hangs : Slot.Crashes]!++;
    // An input that never finished was not counted by the worker; one blamed for a later callback was.
    if (Atomics.load(counters.ints, Slot.Current) !== -1) counters.ints[Slot.Done]!++;
    Atomics.store(counters.ints, Slot.Current, -1);
    const finding: Finding = isHang
      ? { kind: 'hang', target: options.target, seed: options.seed, iteration, signature: `never finished (${outcome.why})`, message: outcome.why, ms: options.watchdogMs }
      : { kind: 'crash', target: options.target, seed: options.seed, iteration, signature: `worker died: ${String((outcome.error as Error)?.message ?? outcome.error).split('\n')[0]}`, message: String(outcome.error) };
    if (options.outDir && !savedSignatures.has(`${finding.kind}:${finding.signature}`)) {
      const details = isHang ? finding.message : `the worker died while running this input (or a callback it scheduled): ${(outcome.error as Error)?.stack ?? String(outcome.error)}`;
      finding.file = saveFinding(options.outDir, finding, input, details);
    }
    noteFinding(finding);
    from = iteration + 1;
  }
  await mainTarget?.close?.();
  return { loopSeconds, workersStarted, warnings, warningExamples: [...warningExamples] };
}

function runSegment(
  options: SuperviseOptions,
  counters: Counters,
  from: number,
  iterations: number,
  savedSignatures: string[],
  onFinding: (finding: Finding) => void,
  onProgress: (loopSeconds: number) => void,
): Promise<{ end: SegmentEnd; loopSeconds: number }> {
  const job: WorkerJob = {
    target: options.target,
    seed: options.seed,
    from,
    iterations,
    hangMs: options.hangMs,
    outDir: options.outDir,
    counters: counters.buffer,
    savedSignatures,
  };
  const worker = startModuleWorker(new URL('./worker.ts', import.meta.url), { workerData: job });
  return new Promise<{ end: SegmentEnd; loopSeconds: number }>((resolve) => {
    let startedAt: number | undefined;
    let watched = -1;
    let watchedRuns = -1;
    let watchedSince = 0;
    let lastProgress = performance.now();
    let settled = false;
    const seconds = (): number => (startedAt === undefined ? 0 : (performance.now() - startedAt) / 1000);
    const finish = (end: SegmentEnd): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      const loopSeconds = seconds();
      void worker.terminate().then(() => resolve({ end, loopSeconds }));
    };
    const timer = setInterval(() => {
      const now = performance.now();
      const current = Atomics.load(counters.ints, Slot.Current);
      const runs = Atomics.load(counters.ints, Slot.Runs);
      if (current !== watched || runs !== watchedRuns) {
        watched = current;
        watchedRuns = runs;
        watchedSince = now;
      } else if (current !== -1 && now - watchedSince > options.watchdogMs) {
        finish({ kind: 'stuck', iteration: current, why: `still running after ${options.watchdogMs} ms; the worker was terminated` });
        return;
      }
      if (startedAt !== undefined && now - lastProgress >= (options.progressMs ?? 5000)) {
        lastProgress = now;
        onProgress(seconds());
      }
    }, POLL_MS);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'started') startedAt = performance.now();
      else if (message.type === 'finding') onFinding(message.finding);
      else finish({ kind: 'done', warnings: message.warnings, warningExamples: message.warningExamples });
    });
    worker.on('error', (error) => {
      if (startedAt === undefined) {
        // Before the first input: the harness itself failed (a target that cannot prepare, say).
        settled = true;
        clearInterval(timer);
        resolve({ end: { kind: 'died', iteration: -1, error }, loopSeconds: seconds() });
        return;
      }
      // Between inputs, the error came from a callback an input scheduled: blame the last one run.
      const current = Atomics.load(counters.ints, Slot.Current);
      finish({ kind: 'died', iteration: current !== -1 ? current : Atomics.load(counters.ints, Slot.Last), error });
    });
    worker.on('exit', (code) => {
      if (settled) return;
      const current = Atomics.load(counters.ints, Slot.Current);
      // A thread whose event loop ran dry while awaiting an input's promise: that promise can never settle.
      if (current !== -1 && (code === 0 || code === 13)) finish({ kind: 'stuck', iteration: current, why: 'its promise never settled (the worker had nothing left to run)' });
      else finish({ kind: 'died', iteration: current, error: new Error(`the worker exited with code ${code}`) });
    });
  }).then((result) => {
    const end = result.end;
    if (end.kind === 'died' && end.iteration === -1) throw new Error(`fuzz worker for ${options.target} failed outside any input: ${(end.error as Error)?.stack ?? String(end.error)}`);
    return result;
  });
}
