import type { Board } from '../device/board.js';
import { failureClassOf, RigError } from '../util/failure.js';
import { RunContext, type RunServices } from './run-context.js';
import type { ConsoleLine } from '../device/console-history.js';
import type { ConsoleExcerptLine, Measurement, Provenance, RunRecord, StepRecord } from './run-record.js';
import { resolveTemplates, type Scenario, type StepDefinition } from './scenario.js';
import type { StepLibrary } from './step-library.js';
import type { MeasureOptions, StepContext, StepType } from './step-type.js';
import { combineVerdicts, type Verdict } from './verdict.js';

/**
 * Executes one scenario on one board (after OpenHTF: the description is
 * immutable, the executor separate, one run record feeds every output).
 * - every step has a timeout; the run has one too;
 * - a step is retried only when it failed with an infrastructure error;
 * - the first failing main step ends the main phase unless it says continueOnFailure;
 * - teardown always runs, each step with its own timeout, even after cancellation;
 * - cancellation comes through an AbortSignal and gives the verdict `cancelled`.
 */
export interface RunObserver {
  runStarted?(record: RunRecord): void;
  stepStarted?(record: RunRecord, step: StepRecord): void;
  /** A running step said how far it has got (its `message`, until it ends). */
  stepProgress?(record: RunRecord, step: StepRecord, message: string): void;
  stepEnded?(record: RunRecord, step: StepRecord): void;
  /** A console line the board printed while the run ran (already in `record.console`). */
  runConsoleLine?(record: RunRecord, line: ConsoleExcerptLine): void;
  measurement?(record: RunRecord, step: StepRecord, measurement: Measurement): void;
  runEnded?(record: RunRecord): void;
}

export interface RunOptions {
  record: RunRecord;
  scenario: Scenario;
  board: Board;
  library: StepLibrary;
  services: RunServices;
  signal?: AbortSignal;
  observer?: RunObserver;
  /** Provenance fields the runner cannot know (daemon and emulator versions). */
  versions?: { daemonVersion: string; emulatorVersion: string | null };
}

const DEFAULT_RUN_TIMEOUT_MS = 30 * 60_000;
const TEARDOWN_GRACE_MS = 60_000;

export async function runScenario(options: RunOptions): Promise<RunRecord> {
  const { record, scenario, board, library, observer } = options;
  // The scheduler resolved the parameters (declared defaults included) when the run was submitted.
  const params = { ...record.params };
  const runTimeout = AbortSignal.timeout(scenario.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
  const runSignal = options.signal ? AbortSignal.any([options.signal, runTimeout]) : runTimeout;
  const context = new RunContext(record.id, params, options.services);
  const consoleStart = board.console.mark();
  context.runConsoleMark = consoleStart;

  const phases: Array<[StepRecord['phase'], StepDefinition[]]> = [
    ['setup', scenario.setup ?? []],
    ['main', scenario.steps],
    ['teardown', scenario.teardown ?? []],
  ];
  record.steps = phases.flatMap(([phase, steps]) => steps.map((step) => blankStep(step, phase)));
  record.steps.forEach((s, i) => (s.index = i));
  record.status = 'running';
  record.startedAt = new Date().toISOString();
  const osBefore = await board.info({ signal: runSignal, timeoutMs: 10_000 }).then((i) => i.osVersion, () => null);
  // Provenance and console are kept as the run goes, so a run cut short (a daemon
  // killed mid-run) still shows what it ran on and what the board printed.
  record.provenance = provenanceOf(options, osBefore, null, context);
  const onConsoleLine = (line: ConsoleLine) => {
    const excerpt = excerptOf(line);
    record.console.push(excerpt);
    if (record.console.length > CONSOLE_EXCERPT_LINES) record.console.splice(0, record.console.length - CONSOLE_EXCERPT_LINES);
    observer?.runConsoleLine?.(record, excerpt);
  };
  record.console = board.console.lines(consoleStart).slice(-CONSOLE_EXCERPT_LINES).map(excerptOf);
  board.console.on('line', onConsoleLine);
  observer?.runStarted?.(record);

  let stop = false;
  let index = 0;
  try {
    for (const [phase, steps] of phases) {
      for (const definition of steps) {
        const step = record.steps[index++]!;
        if (phase !== 'teardown' && (stop || runSignal.aborted)) {
          step.status = 'skipped';
          continue;
        }
        // Teardown runs whatever happened, under its own timeout only.
        const signal = phase === 'teardown' ? AbortSignal.timeout(TEARDOWN_GRACE_MS) : runSignal;
        await runStep(definition, step, { board, library, context, params, signal, record, observer });
        if (phase !== 'teardown' && step.verdict !== 'passed' && step.verdict !== 'not-applicable' && !definition.continueOnFailure) stop = true;
      }
    }
  } finally {
    board.console.off('line', onConsoleLine);
  }

  const mainVerdicts = record.steps.filter((s) => s.phase !== 'teardown' && s.verdict).map((s) => s.verdict!);
  let verdict = combineVerdicts(mainVerdicts);
  const stopped = options.signal?.aborted ? (options.signal.reason as unknown) : undefined;
  if (options.signal?.aborted) verdict = stopped instanceof RigError ? stopped.failureClass : 'cancelled';
  else if (runTimeout.aborted && verdict !== 'passed') verdict = 'timeout';
  // A failed teardown does not fail a passed test, but it is infrastructure trouble worth saying.
  const teardownFailure = record.steps.find((s) => s.phase === 'teardown' && s.verdict && s.verdict !== 'passed');
  const firstFailure = record.steps.find((s) => s.phase !== 'teardown' && s.verdict && s.verdict !== 'passed' && s.verdict !== 'not-applicable');
  record.verdict = verdict;
  record.reason = firstFailure
    ? `${firstFailure.name}: ${firstFailure.message ?? firstFailure.verdict}`
    : options.signal?.aborted
      ? stopped instanceof RigError && stopped.failureClass !== 'cancelled'
        ? `${stopped.code}: ${stopped.message}`
        : 'cancelled'
      : teardownFailure
        ? `teardown ${teardownFailure.name}: ${teardownFailure.message ?? teardownFailure.verdict}`
        : null;
  record.status = 'finished';
  record.endedAt = new Date().toISOString();
  record.console = board.console.lines(consoleStart).slice(-CONSOLE_EXCERPT_LINES).map(excerptOf);
  const osAfter = await board.info({ timeoutMs: 5_000 }).then((i) => i.osVersion, () => null);
  record.provenance = provenanceOf(options, osBefore, osAfter, context);
  record.errorReports = context.errorReports;
  if (context.deviceLogs.length) record.deviceLog = context.deviceLogs;
  observer?.runEnded?.(record);
  return record;
}

/** The console lines a run record keeps (the newest). */
const CONSOLE_EXCERPT_LINES = 2000;

function provenanceOf(options: RunOptions, osBefore: string | null, osAfter: string | null, context: RunContext): Provenance {
  const { board } = options;
  return {
    daemonVersion: options.versions?.daemonVersion ?? 'unknown',
    emulatorVersion: board.identity.driver === 'emulated' ? (options.versions?.emulatorVersion ?? null) : null,
    board: { id: board.identity.id, driver: board.identity.driver, deviceId: board.identity.deviceId, usbSerial: board.identity.usbSerial },
    osVersionBefore: osBefore,
    osVersionAfter: osAfter,
    artefacts: context.artefacts(),
  };
}

function blankStep(definition: StepDefinition, phase: StepRecord['phase']): StepRecord {
  return {
    index: 0,
    name: definition.name ?? definition.type,
    type: definition.type,
    phase,
    status: 'pending',
    verdict: null,
    startedAt: null,
    endedAt: null,
    durationMs: null,
    attempts: 0,
    message: null,
    errorCode: null,
    measurements: [],
    matchedConsoleLines: [],
  };
}

interface StepRunEnv {
  board: Board;
  library: StepLibrary;
  context: RunContext;
  params: Record<string, unknown>;
  signal: AbortSignal;
  record: RunRecord;
  observer?: RunObserver;
}

async function runStep(definition: StepDefinition, step: StepRecord, env: StepRunEnv): Promise<void> {
  const type = env.library.get(definition.type);
  const { type: _t, name: _n, timeoutMs, retries, continueOnFailure: _c, ...rawParams } = definition;
  const stepParams = resolveTemplates(rawParams, env.params);
  const limit = timeoutMs ?? type.defaultTimeoutMs;
  step.status = 'running';
  step.startedAt = new Date().toISOString();
  env.context.stepConsoleMarks.push(env.board.console.mark());
  const started = performance.now();
  env.observer?.stepStarted?.(env.record, step);
  for (;;) {
    step.attempts += 1;
    step.measurements = [];
    const stepTimeout = AbortSignal.timeout(limit);
    const signal = AbortSignal.any([env.signal, stepTimeout]);
    const deadline = performance.now() + limit;
    let measurementFailed: string | null = null;
    const context: StepContext = {
      board: env.board,
      signal,
      run: env.context,
      remainingMs: () => Math.max(1, Math.floor(deadline - performance.now())),
      measure: (name, value, options: MeasureOptions = {}) => {
        const measurement = evaluate(name, value, options);
        step.measurements.push(measurement);
        env.observer?.measurement?.(env.record, step, measurement);
        if (!measurement.passed && !measurementFailed) measurementFailed = `${name} = ${String(value)}${options.unit ? ` ${options.unit}` : ''} is outside its limits`;
        return measurement.passed;
      },
      matched: (line) => step.matchedConsoleLines.push(line.seq),
      note: (message) => {
        step.message = message;
        env.observer?.stepProgress?.(env.record, step, message);
      },
    };
    let verdict: Verdict;
    try {
      if (needsPower(type, stepParams) && env.board.state() === 'off') {
        throw new RigError('device-fault', 'board-off', `board ${env.board.identity.id} is off: this step needs a powered board (nothing in this run powered it on)`);
      }
      await raceAbort(type.run(stepParams as never, context), signal);
      verdict = measurementFailed ? 'test-failed' : 'passed';
      if (measurementFailed) step.message = measurementFailed;
      step.errorCode = measurementFailed ? 'measurement-out-of-limits' : null;
    } catch (error) {
      verdict = classify(error, stepTimeout, env.signal);
      step.message = verdict === 'timeout' && stepTimeout.aborted ? `timed out after ${limit} ms${error instanceof Error && !isAbort(error) ? `: ${error.message}` : ''}` : error instanceof Error ? error.message : String(error);
      step.errorCode = error instanceof RigError ? error.code : verdict;
    }
    step.verdict = verdict;
    if (verdict === 'infra-error' && step.attempts <= (retries ?? 0) && !env.signal.aborted) continue;
    break;
  }
  step.status = 'finished';
  step.endedAt = new Date().toISOString();
  step.durationMs = Math.round(performance.now() - started);
  if (env.record.provenance) env.record.provenance.artefacts = env.context.artefacts();
  env.observer?.stepEnded?.(env.record, step);
}

function needsPower(type: StepType<never>, params: unknown): boolean {
  const rule = type.needsPower as boolean | ((p: unknown) => boolean) | undefined;
  return typeof rule === 'function' ? rule(params) : rule === true;
}

function evaluate(name: string, value: number | string | boolean, options: MeasureOptions): Measurement {
  let passed = true;
  if (options.equals !== undefined) passed = value === options.equals;
  if (typeof value === 'number') {
    if (options.min !== undefined && value < options.min) passed = false;
    if (options.max !== undefined && value > options.max) passed = false;
  }
  const limits = options.min !== undefined || options.max !== undefined || options.equals !== undefined ? { min: options.min, max: options.max, equals: options.equals } : undefined;
  return { name, value, unit: options.unit, limits, passed, at: new Date().toISOString() };
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** Which side failed: a step timeout is `timeout`, a run cancellation `cancelled`, else the error's class. */
function classify(error: unknown, stepTimeout: AbortSignal, runSignal: AbortSignal): Verdict {
  if (runSignal.aborted) {
    const reason = runSignal.reason as Error | undefined;
    // The rig may end a run for a reason of its own (the emulator died): that class, not a cancel.
    if (reason instanceof RigError) return reason.failureClass;
    return reason?.name === 'TimeoutError' ? 'timeout' : 'cancelled';
  }
  if (stepTimeout.aborted) return 'timeout';
  return failureClassOf(error);
}

/** Steps honour their signal, but a step that ignores it must not hang the run. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function excerptOf(line: ConsoleLine): ConsoleExcerptLine {
  const { seq, timestamp, text, channel } = line;
  return channel === undefined ? { seq, timestamp, text } : { seq, timestamp, text, channel };
}
