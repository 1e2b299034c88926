import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomFor } from './random.js';
import type { PreparedTarget, TargetName } from './target.js';

/**
 * The fuzz loop, in whatever thread runs it: for each iteration, generate the
 * input from (seed, iteration), run the target on it, time it, and sort the
 * outcome into accepted / rejected (the parser's documented refusal) / crash
 * (anything else thrown). An input slower than `hangMs` is run again: slow both
 * times, it is a hang; the second run fast, it is counted as `slow` (the machine,
 * a GC) and nothing more. The first input of each distinct crash (by error type,
 * message shape and the frame it came from) and every hang is saved to `outDir`,
 * named after the target, seed and iteration, with a .txt beside it saying what
 * happened and how to replay it.
 *
 * Counters live in a SharedArrayBuffer so that a watchdog thread can read them
 * (and which iteration is running) even while this loop hogs its own thread.
 */
export const Slot = {
  /** The iteration running now, or -1 between inputs. */
  Current: 0,
  Done: 1,
  Accepted: 2,
  Rejected: 3,
  Crashes: 4,
  Hangs: 5,
  Slow: 6,
  /** The last iteration started (an error raised later by a callback it scheduled is blamed on it). */
  Last: 7,
  /** Runs started, retries of slow inputs included: the watchdog times each run, not each input. */
  Runs: 8,
  Size: 10,
} as const;
export type Slot = (typeof Slot)[keyof typeof Slot];

export class Counters {
  readonly ints: Int32Array;
  /** [0]: slowest input in ms; [1]: time spent in the loop, seconds. */
  readonly floats: Float64Array;

  readonly buffer: SharedArrayBuffer;

  /** New counters, or a view of counters another thread made (`buffer`). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(Slot.Size * 4 + 2 * 8);
    this.ints = new Int32Array(this.buffer, 0, Slot.Size);
    this.floats = new Float64Array(this.buffer, Slot.Size * 4, 2);
    if (!buffer) Atomics.store(this.ints, Slot.Current, -1);
  }

  get(slot: Slot): number {
    return Atomics.load(this.ints, slot);
  }

  get maxMs(): number {
    return this.floats[0]!;
  }

  get loopSeconds(): number {
    return this.floats[1]!;
  }
}

export interface Finding {
  kind: 'crash' | 'hang';
  target: TargetName;
  seed: number;
  iteration: number;
  /** Groups crashes of one cause: error name, message with numbers blanked, first project frame. */
  signature: string;
  message: string;
  /** Milliseconds, for a hang. */
  ms?: number;
  /** The saved input, when saved. */
  file?: string;
}

export interface RunOptions {
  target: TargetName;
  seed: number;
  /** First iteration (a restarted worker resumes after the input that hung it). */
  from?: number;
  iterations: number;
  hangMs: number;
  /** Where to save findings; undefined saves nothing. */
  outDir?: string;
  counters?: Counters;
  /** Signatures already saved (shared across restarts, so one cause is saved once). */
  savedSignatures?: Set<string>;
  onFinding?(finding: Finding): void;
  /** Called about once a second with the counters. */
  onProgress?(counters: Counters): void;
  /** At most this many inputs saved per run (default 50): a shallow bug hit every other input must not fill the disk. */
  maxSaved?: number;
}

/** What a thrown value says about its cause, for grouping crashes. */
export function crashSignature(error: unknown): string {
  if (!(error instanceof Error)) return `non-Error thrown: ${typeof error}`;
  const message = error.message.split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 160);
  // The first frame in the project's sources, as "function (file)": line numbers would split one
  // cause (a recursion overflowing at whichever line) into many.
  const frame = (error.stack ?? '').split('\n').find((line) => /\/src\//.test(line));
  const where = frame?.match(/at (?:async )?([^\s(]+)? ?\(?.*\/(src\/[^:)]+)/);
  return `${error.name}: ${message}${where ? ` @ ${where[1] ?? '<anonymous>'} (${where[2]})` : ''}`;
}

/** Any thrown value as text, even one whose toString throws. */
export function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return `non-Error thrown (${typeof error}): ${JSON.stringify(error)}`;
  } catch {
    return `non-Error thrown (${typeof error}): ${safeString(error)}`;
  }
}

export function findingFileName(target: TargetName, seed: number, iteration: number, kind: Finding['kind']): string {
  return `${target}-seed${seed}-iter${iteration}-${kind}.bin`;
}

/** Saves the input and a note beside it; returns the input's path. */
export function saveFinding(outDir: string, finding: Finding, input: Buffer, details: string): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, findingFileName(finding.target, finding.seed, finding.iteration, finding.kind));
  writeFileSync(file, input);
  const shown = relative(process.cwd(), file) || file;
  writeFileSync(
    file.replace(/\.bin$/, '.txt'),
    [
      `${finding.kind} in target ${finding.target}, seed ${finding.seed}, iteration ${finding.iteration}${finding.ms !== undefined ? ` (${finding.ms.toFixed(0)} ms)` : ''}`,
      `signature: ${finding.signature}`,
      '',
      details,
      '',
      'replay:',
      `  npm run fuzz -- --target ${finding.target} --replay ${shown}`,
      `  npm run fuzz -- --target ${finding.target} --seed ${finding.seed} --replay-iteration ${finding.iteration}`,
      '',
    ].join('\n'),
  );
  return file;
}

type Outcome = { kind: 'accepted' } | { kind: 'rejected' } | { kind: 'crash'; error: unknown };

/** Runs one input and sorts its outcome. */
export async function runOne(target: PreparedTarget, input: Buffer): Promise<Outcome> {
  try {
    const pending = target.run(input);
    if (pending) await pending;
    return { kind: 'accepted' };
  } catch (error) {
    return target.isRejection(error) ? { kind: 'rejected' } : { kind: 'crash', error };
  }
}

/** The same as runOne, without a promise when the target is synchronous (keeps the loop tight). */
function runOneFast(target: PreparedTarget, input: Buffer): Outcome | Promise<Outcome> {
  let pending: void | Promise<void>;
  try {
    pending = target.run(input);
  } catch (error) {
    return target.isRejection(error) ? { kind: 'rejected' } : { kind: 'crash', error };
  }
  if (!pending) return { kind: 'accepted' };
  return pending.then(
    (): Outcome => ({ kind: 'accepted' }),
    (error: unknown): Outcome => (target.isRejection(error) ? { kind: 'rejected' } : { kind: 'crash', error }),
  );
}

export async function runTarget(prepared: PreparedTarget, options: RunOptions): Promise<Counters> {
  const counters = options.counters ?? new Counters();
  const { ints, floats } = counters;
  const saved = options.savedSignatures ?? new Set<string>();
  const maxSaved = options.maxSaved ?? 50;
  let savedCount = 0;
  const from = options.from ?? 0;
  const end = from + options.iterations;
  const loopStart = performance.now();
  const loopSecondsBefore = floats[1]!;
  let nextProgress = loopStart + 1000;

  const record = (finding: Finding, input: Buffer, details: string): void => {
    if (options.outDir && !saved.has(`${finding.kind}:${finding.signature}`) && savedCount < maxSaved) {
      saved.add(`${finding.kind}:${finding.signature}`);
      savedCount++;
      finding.file = saveFinding(options.outDir, finding, input, details);
    }
    options.onFinding?.(finding);
  };

  for (let iteration = from; iteration < end; iteration++) {
    const input = prepared.generate(randomFor(options.seed, iteration));
    Atomics.store(ints, Slot.Current, iteration);
    Atomics.store(ints, Slot.Last, iteration);
    Atomics.add(ints, Slot.Runs, 1);
    const started = performance.now();
    let outcome = runOneFast(prepared, input);
    if (outcome instanceof Promise) outcome = await outcome;
    const ms = performance.now() - started;

    if (outcome.kind === 'accepted') ints[Slot.Accepted]!++;
    else if (outcome.kind === 'rejected') ints[Slot.Rejected]!++;
    else {
      ints[Slot.Crashes]!++;
      const error = outcome.error;
      record(
        { kind: 'crash', target: options.target, seed: options.seed, iteration, signature: crashSignature(error), message: error instanceof Error ? error.message.split('\n')[0]! : safeString(error) },
        input,
        describeThrown(error),
      );
    }
    if (ms > floats[0]!) floats[0] = ms;
    if (ms > options.hangMs) {
      // Once more, to tell an input that is slow from a machine that was busy.
      Atomics.add(ints, Slot.Runs, 1);
      const again = performance.now();
      await runOne(prepared, input);
      const secondMs = performance.now() - again;
      if (secondMs > options.hangMs) {
        ints[Slot.Hangs]!++;
        record(
          { kind: 'hang', target: options.target, seed: options.seed, iteration, signature: `slow input (${outcome.kind === 'crash' ? crashSignature(outcome.error) : outcome.kind})`, message: `took ${ms.toFixed(0)} ms, then ${secondMs.toFixed(0)} ms`, ms: Math.min(ms, secondMs) },
          input,
          `the input took ${ms.toFixed(0)} ms and, run again, ${secondMs.toFixed(0)} ms (limit ${options.hangMs} ms); outcome: ${outcome.kind}`,
        );
      } else {
        ints[Slot.Slow]!++;
      }
    }
    // Only now: the watchdog must also see a second run of a slow input that never ends.
    Atomics.store(ints, Slot.Current, -1);
    ints[Slot.Done]!++;
    if (started > nextProgress) {
      floats[1] = loopSecondsBefore + (performance.now() - loopStart) / 1000;
      nextProgress = started + 1000;
      options.onProgress?.(counters);
    }
  }
  floats[1] = loopSecondsBefore + (performance.now() - loopStart) / 1000;
  options.onProgress?.(counters);
  return counters;
}
