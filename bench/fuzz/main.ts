/**
 * `npm run fuzz`: mutation fuzzing of the project's parsers of untrusted input.
 * Run with --help for the options. Exit status 1 when anything crashed or hung.
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { countWarnings } from './quiet-warnings.js';
import { randomFor } from './random.js';
import { Counters, describeThrown, runTarget, Slot, type Finding } from './runner.js';
import { runSupervised } from './supervise.js';
import { isTargetName, TARGET_NAMES, type TargetName } from './target.js';
import { loadTarget, TARGET_DESCRIPTIONS } from './targets/index.js';

const HELP = `Usage: npm run fuzz -- [options]

Mutation fuzzing of sphere-rig's parsers of untrusted input. Each target feeds the
project's real parser mutations of valid seeds (bit flips, byte insert/delete/
duplicate, splices of two seeds, interesting integers, truncation; token- and
line-level mutations for text) and sorts every outcome: accepted, rejected with
the parser's documented error, or a crash (anything else thrown). An input that
takes longer than --hang-ms twice in a row is a hang; one still running after
--watchdog-ms is killed with its worker thread and counted as a hang.

Options:
  --target NAME         a target to run (repeat, or comma-separate); default: all, one after the other
  --iterations N        inputs per target (default 1000000)
  --seed N              PRNG seed, 0..4294967295 (default: random, printed). The same seed
                        gives the same inputs (see the evidence target's note on signatures)
  --out DIR             where failing inputs are saved (default ./fuzz-findings/), as
                        <target>-seed<seed>-iter<iteration>-<crash|hang>.bin, with a .txt beside it
  --hang-ms MS          an input slower than this (twice) is a hang (default 1000)
  --watchdog-ms MS      an input still running after this is killed as a hang (default 10000)
  --workers N           worker threads side by side, each a share of the iterations (default 1);
                        the inputs are the same whatever N: use it on a machine with idle cores
  --in-process          run in this thread, without the watchdog (a true hang then hangs the fuzzer)
  --replay FILE         run one saved input through --target (default: the target its name starts with)
  --replay-iteration N  regenerate iteration N of --seed for --target and run it
  --quiet               no progress lines, only the summary
  -h, --help            this text

Targets:
${TARGET_NAMES.map((name) => `  ${name.padEnd(16)} ${TARGET_DESCRIPTIONS[name]}`).join('\n')}
`;

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n(npm run fuzz -- --help for the options)\n`);
  process.exit(2);
}

function integer(value: string | undefined, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) fail(`--${name} must be an integer 0..${max}, got '${value}'`);
  return Number(value);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        target: { type: 'string', multiple: true },
        iterations: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'hang-ms': { type: 'string' },
        'watchdog-ms': { type: 'string' },
        'in-process': { type: 'boolean' },
        replay: { type: 'string' },
        workers: { type: 'string' },
        'replay-iteration': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail((error as Error).message);
  }
})();

if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const targets: TargetName[] = (values.target ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean).map((t) => (isTargetName(t) ? t : fail(`unknown target '${t}' (targets: ${TARGET_NAMES.join(', ')})`)));
const iterations = integer(values.iterations, 'iterations', 1_000_000);
const seed = integer(values.seed, 'seed', Math.floor(Math.random() * 2 ** 32), 0xffffffff);
const hangMs = integer(values['hang-ms'], 'hang-ms', 1000);
const watchdogMs = integer(values['watchdog-ms'], 'watchdog-ms', 10_000);
const outDir = resolve(values.out ?? 'fuzz-findings');
const quiet = values.quiet === true;
const workers = values.workers === undefined ? undefined : integer(values.workers, 'workers', 1, 64);

const number = (n: number): string => Math.round(n).toLocaleString('en-US');

async function replay(): Promise<never> {
  const file = values.replay;
  const fromName = file ? TARGET_NAMES.find((name) => basename(file).startsWith(`${name}-`)) : undefined;
  const name = targets[0] ?? fromName ?? fail('--replay and --replay-iteration need --target');
  const warnings = countWarnings();
  const prepared = await (await loadTarget(name)).prepare();
  let input: Buffer;
  if (file) input = readFileSync(file);
  else {
    const iteration = integer(values['replay-iteration'], 'replay-iteration', 0);
    if (values.seed === undefined) fail('--replay-iteration needs the --seed of the run');
    input = prepared.generate(randomFor(seed, iteration));
    process.stdout.write(`target ${name}, seed ${seed}, iteration ${iteration}: ${input.length} bytes\n`);
  }
  const started = performance.now();
  let outcome: string;
  try {
    const pending = prepared.run(input);
    if (pending) await pending;
    outcome = 'accepted';
  } catch (error) {
    outcome = prepared.isRejection(error) ? `rejected (documented): ${(error as Error).message}` : `CRASH: ${describeThrown(error)}`;
  }
  process.stdout.write(`${outcome}\n${(performance.now() - started).toFixed(1)} ms\n`);
  if (warnings.count) process.stdout.write(`process warnings: ${[...warnings.examples].join('; ')}\n`);
  process.exit(outcome.startsWith('CRASH') ? 1 : 0);
}

interface TargetSummary {
  name: TargetName;
  done: number;
  seconds: number;
  accepted: number;
  rejected: number;
  crashes: number;
  hangs: number;
  slow: number;
  maxMs: number;
  findings: Finding[];
  warnings: number;
  warningExamples: string[];
}

function printFinding(finding: Finding): void {
  process.stdout.write(`  ${finding.kind.toUpperCase()} at iteration ${finding.iteration}: ${finding.signature}${finding.file ? `\n    saved ${finding.file}` : ''}\n`);
}

function progressLine(name: TargetName, counters: Counters, seconds: number): void {
  if (quiet) return;
  const done = counters.get(Slot.Done);
  const rate = seconds > 0 ? done / seconds : 0;
  process.stdout.write(
    `  [${name}] ${number(done)}/${number(iterations)}  ${number(rate)} inputs/s  crashes ${counters.get(Slot.Crashes)}  hangs ${counters.get(Slot.Hangs)}\n`,
  );
}

async function fuzz(name: TargetName): Promise<TargetSummary> {
  process.stdout.write(`${name}: ${number(iterations)} inputs, seed ${seed}${values['in-process'] ? ', in-process' : ''}\n`);
  let counters: Counters;
  let seconds: number;
  const findings: Finding[] = [];
  let warnings = 0;
  let warningExamples: string[] = [];
  const onFinding = (finding: Finding): void => {
    findings.push(finding);
    printFinding(finding);
  };
  if (values['in-process']) {
    const counted = countWarnings();
    const prepared = await (await loadTarget(name)).prepare();
    let lastLine = performance.now();
    counters = await runTarget(prepared, {
      target: name,
      seed,
      iterations,
      hangMs,
      outDir,
      onFinding,
      onProgress: (c) => {
        if (performance.now() - lastLine < 5000) return;
        lastLine = performance.now();
        progressLine(name, c, c.loopSeconds);
      },
    });
    await prepared.close?.();
    seconds = counters.loopSeconds;
    // Warnings are delivered on a later tick: let the last ones arrive before counting stops.
    await new Promise((resolve) => setImmediate(resolve));
    counted.restore();
    warnings = counted.count;
    warningExamples = [...counted.examples];
  } else {
    const result = await runSupervised({ target: name, seed, iterations, hangMs, watchdogMs, outDir, workers, onFinding, onProgress: (c, s) => progressLine(name, c, s) });
    counters = result.counters;
    seconds = result.loopSeconds;
    warnings = result.warnings;
    warningExamples = result.warningExamples;
  }
  return {
    name,
    done: counters.get(Slot.Done),
    seconds,
    accepted: counters.get(Slot.Accepted),
    rejected: counters.get(Slot.Rejected),
    crashes: counters.get(Slot.Crashes),
    hangs: counters.get(Slot.Hangs),
    slow: counters.get(Slot.Slow),
    maxMs: counters.maxMs,
    findings,
    warnings,
    warningExamples,
  };
}

function printSummary(summary: TargetSummary): void {
  const rate = summary.seconds > 0 ? summary.done / summary.seconds : 0;
  const uniqueCrashes = new Set(summary.findings.filter((f) => f.kind === 'crash').map((f) => f.signature)).size;
  process.stdout.write(
    [
      `${summary.name}: ${number(summary.done)} inputs in ${summary.seconds.toFixed(1)} s = ${number(rate)} inputs/s`,
      `  accepted ${number(summary.accepted)}, rejected ${number(summary.rejected)} (documented errors)`,
      `  crashes ${summary.crashes}${summary.crashes ? ` (${uniqueCrashes} distinct)` : ''}, hangs ${summary.hangs}; slowest input ${summary.maxMs.toFixed(1)} ms` +
        `${summary.slow ? `, ${summary.slow} slow once but not again` : ''}`,
      ...(summary.warnings ? [`  process warnings emitted by the parser: ${number(summary.warnings)} (e.g. ${summary.warningExamples[0]})`] : []),
      '',
    ].join('\n'),
  );
}

if (values.replay !== undefined || values['replay-iteration'] !== undefined) await replay();

const summaries: TargetSummary[] = [];
for (const name of targets.length ? targets : TARGET_NAMES) {
  const summary = await fuzz(name);
  printSummary(summary);
  summaries.push(summary);
}

if (summaries.length > 1) {
  process.stdout.write(`target            inputs       seconds   inputs/s   crashes  hangs\n`);
  for (const s of summaries) {
    process.stdout.write(
      `${s.name.padEnd(16)}  ${number(s.done).padStart(10)}  ${s.seconds.toFixed(1).padStart(8)}  ${number(s.seconds ? s.done / s.seconds : 0).padStart(9)}  ${String(s.crashes).padStart(7)}  ${String(s.hangs).padStart(5)}\n`,
    );
  }
}
const bad = summaries.reduce((sum, s) => sum + s.crashes + s.hangs, 0);
if (bad) process.stdout.write(`\n${bad} crash(es)/hang(s); the failing inputs are in ${outDir}\n`);
process.exit(bad ? 1 : 0);
