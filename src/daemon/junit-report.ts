import type { Measurement, RunRecord, StepRecord } from '../scenario/run-record.js';
import type { Verdict } from '../scenario/verdict.js';
import { xmlAttribute, xmlSafe, xmlText } from './xml-text.js';

/**
 * Runs as JUnit XML for CI: one `<testsuite>` per run, one `<testcase>` per step.
 *
 * | verdict | JUnit |
 * | --- | --- |
 * | passed | (nothing) |
 * | test-failed | `<failure type="test-failed">` |
 * | infra-error, device-fault, timeout | `<error type="<class>">`: the test could not be judged |
 * | cancelled, not-applicable | `<skipped>` |
 * | step never ran (pending, skipped) | `<skipped>` |
 *
 * A run whose verdict no step explains (interrupted while queued, a rig fault
 * between steps) gets one more testcase, `(run)`, carrying that verdict, so CI
 * never shows a failed run as green. Measurements go to the step's `<system-out>`,
 * the console excerpt to the suite's, provenance to `<properties>`.
 *
 * Testcase names are unique within a suite: CI tools key a result by classname
 * and name, and merge, overwrite or drop repeats (two unnamed `fault` steps would
 * show as one). A step keeps its name when it is the first to use it; a later
 * step with the same name gets ` (2)`, ` (3)`, … (the first number that is free).
 * Chosen over prefixing every name with its step index: names a scenario author
 * gave stay exactly as written (and so do the test histories CI keeps by name,
 * which an index prefix would break whenever a step is inserted above), and the
 * suffix reads as "the second one" in any tool's list.
 */
export interface JUnitOptions {
  /** Name of the `<testsuites>` root. Default `sphere-rig`. */
  name?: string;
}

type Outcome = { kind: 'passed' } | { kind: 'failure' | 'error' | 'skipped'; type: string; message: string; detail: string };

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  timeSeconds: number;
}

export const RUN_TESTCASE_NAME = '(run)';

export function runsToJUnitXml(runs: readonly RunRecord[], options: JUnitOptions = {}): string {
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, timeSeconds: 0 };
  const suites = runs.map((run) => {
    const { xml, counts } = suiteXml(run);
    total.tests += counts.tests;
    total.failures += counts.failures;
    total.errors += counts.errors;
    total.skipped += counts.skipped;
    total.timeSeconds += counts.timeSeconds;
    return xml;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlAttribute(options.name ?? 'sphere-rig')}"${countAttributes(total)}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

export function runToJUnitXml(run: RunRecord, options: JUnitOptions = {}): string {
  return runsToJUnitXml([run], options);
}

function suiteXml(run: RunRecord): { xml: string; counts: Counts } {
  const counts: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, timeSeconds: seconds(run.startedAt, run.endedAt) };
  const cases: string[] = [];
  const classname = `${run.scenario}.${run.boardId}`;
  const add = (name: string, timeSeconds: number, outcome: Outcome, out: string): void => {
    counts.tests++;
    if (outcome.kind === 'failure') counts.failures++;
    if (outcome.kind === 'error') counts.errors++;
    if (outcome.kind === 'skipped') counts.skipped++;
    cases.push(testcaseXml(name, classname, timeSeconds, outcome, out));
  };

  // The verdict of the `(run)` testcase, when no step explains the run's.
  const unexplained = run.verdict !== null && run.verdict !== 'passed' && !run.steps.some((s) => s.verdict === run.verdict) ? run.verdict : null;
  // `(run)` keeps its own name (readers look for it); a step that happens to be called so yields.
  const names = new UniqueNames(unexplained ? [RUN_TESTCASE_NAME] : []);
  for (const step of [...run.steps].sort((a, b) => a.index - b.index)) {
    add(names.claim(step.name), (step.durationMs ?? 0) / 1000, stepOutcome(step), stepOutput(step));
  }
  if (unexplained) add(RUN_TESTCASE_NAME, 0, verdictOutcome(unexplained, run.reason ?? `run ended ${unexplained}`, null), '');

  const attributes =
    ` name="${xmlAttribute(run.scenario)}" id="${xmlAttribute(run.id)}" hostname="${xmlAttribute(run.boardId)}"` +
    ` timestamp="${xmlAttribute(run.startedAt ?? run.queuedAt)}"${countAttributes(counts)}`;
  const lines = [`  <testsuite${attributes}>`, propertiesXml(run), ...cases];
  const consoleText = run.console.map((l) => `[${l.seq}] ${isoOrRaw(l.timestamp)} ${l.channel ? `${l.channel}: ` : ''}${l.text}`).join('\n');
  if (consoleText) lines.push(`    <system-out>${xmlText(consoleText)}</system-out>`);
  if (run.errorReports.length) lines.push(`    <system-err>${xmlText(JSON.stringify(run.errorReports, null, 2))}</system-err>`);
  lines.push('  </testsuite>');
  return { xml: lines.join('\n'), counts };
}

/**
 * Hands out testcase names, each once: a repeat gets ` (n)`, the first n from 2
 * whose name is free. Names are compared as the report shows them (after
 * `xmlSafe`), so two names that would read the same are repeats too.
 */
class UniqueNames {
  readonly #taken = new Set<string>();

  constructor(reserved: readonly string[]) {
    for (const name of reserved) this.#taken.add(xmlSafe(name));
  }

  claim(name: string): string {
    let candidate = name;
    for (let n = 2; this.#taken.has(xmlSafe(candidate)); n++) candidate = `${name} (${n})`;
    this.#taken.add(xmlSafe(candidate));
    return candidate;
  }
}

function stepOutcome(step: StepRecord): Outcome {
  if (step.status === 'pending' || step.status === 'skipped') {
    return { kind: 'skipped', type: 'not-run', message: step.message ?? 'step did not run', detail: '' };
  }
  if (step.verdict === null) return { kind: 'skipped', type: 'running', message: 'step has not ended', detail: '' };
  return verdictOutcome(step.verdict, step.message ?? `step ended ${step.verdict}`, step.errorCode);
}

function verdictOutcome(verdict: Verdict, message: string, errorCode: string | null): Outcome {
  const detail = errorCode ? `${errorCode}: ${message}` : message;
  switch (verdict) {
    case 'passed':
      return { kind: 'passed' };
    case 'test-failed':
      return { kind: 'failure', type: verdict, message, detail };
    case 'infra-error':
    case 'device-fault':
    case 'timeout':
      return { kind: 'error', type: verdict, message, detail };
    case 'cancelled':
    case 'not-applicable':
      return { kind: 'skipped', type: verdict, message: `${verdict}: ${message}`, detail };
  }
}

function testcaseXml(name: string, classname: string, timeSeconds: number, outcome: Outcome, out: string): string {
  const open = `    <testcase name="${xmlAttribute(name)}" classname="${xmlAttribute(classname)}" time="${timeSeconds.toFixed(3)}"`;
  const body: string[] = [];
  if (outcome.kind === 'skipped') body.push(`      <skipped message="${xmlAttribute(outcome.message)}"/>`);
  else if (outcome.kind !== 'passed') {
    body.push(`      <${outcome.kind} message="${xmlAttribute(outcome.message)}" type="${xmlAttribute(outcome.type)}">${xmlText(outcome.detail)}</${outcome.kind}>`);
  }
  if (out) body.push(`      <system-out>${xmlText(out)}</system-out>`);
  return body.length ? `${open}>\n${body.join('\n')}\n    </testcase>` : `${open}/>`;
}

function stepOutput(step: StepRecord): string {
  const lines = step.measurements.map(measurementLine);
  if (step.attempts > 1) lines.push(`attempts: ${step.attempts}`);
  if (step.matchedConsoleLines.length) lines.push(`matched console lines: ${step.matchedConsoleLines.join(', ')}`);
  return lines.join('\n');
}

function measurementLine(m: Measurement): string {
  const limits: string[] = [];
  if (m.limits?.min !== undefined) limits.push(`min ${m.limits.min}`);
  if (m.limits?.max !== undefined) limits.push(`max ${m.limits.max}`);
  if (m.limits?.equals !== undefined) limits.push(`equals ${String(m.limits.equals)}`);
  return `${m.name} = ${String(m.value)}${m.unit ? ` ${m.unit}` : ''}${limits.length ? ` (${limits.join(', ')})` : ''} ${m.passed ? 'PASS' : 'FAIL'}`;
}

function propertiesXml(run: RunRecord): string {
  const properties: [string, string | null | undefined][] = [
    ['run.id', run.id],
    ['run.scenario', run.scenario],
    ['run.scenarioDigest', run.scenarioDigest],
    ['run.board', run.boardId],
    ['run.status', run.status],
    ['run.verdict', run.verdict],
    ['run.reason', run.reason],
    ['run.requestedBy', run.requestedBy],
    ['run.queuedAt', run.queuedAt],
    ['run.startedAt', run.startedAt],
    ['run.endedAt', run.endedAt],
  ];
  for (const [key, value] of Object.entries(run.params)) properties.push([`param.${key}`, JSON.stringify(value)]);
  const p = run.provenance;
  if (p) {
    properties.push(
      ['provenance.daemonVersion', p.daemonVersion],
      ['provenance.emulatorVersion', p.emulatorVersion],
      ['provenance.board.driver', p.board.driver],
      ['provenance.board.deviceId', p.board.deviceId],
      ['provenance.board.usbSerial', p.board.usbSerial],
      ['provenance.osVersionBefore', p.osVersionBefore],
      ['provenance.osVersionAfter', p.osVersionAfter],
    );
    p.artefacts.forEach((a, i) => {
      properties.push([`provenance.artefact.${i}`, `${a.name} ${a.kind} ${a.bytes} bytes ${a.digest}${a.signer ? ` signed by ${a.signer}${a.signerThumbprint ? ` (${a.signerThumbprint})` : ''}` : ''}`]);
    });
  }
  const present = properties.filter((entry): entry is [string, string] => entry[1] !== null && entry[1] !== undefined);
  return ['    <properties>', ...present.map(([name, value]) => `      <property name="${xmlAttribute(name)}" value="${xmlAttribute(value)}"/>`), '    </properties>'].join('\n');
}

function countAttributes(counts: Counts): string {
  return ` tests="${counts.tests}" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" time="${counts.timeSeconds.toFixed(3)}"`;
}

function seconds(from: string | null, to: string | null): number {
  if (!from || !to) return 0;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
}

function isoOrRaw(timestamp: number): string {
  const date = new Date(timestamp);
  return Number.isFinite(date.getTime()) ? date.toISOString() : String(timestamp);
}
