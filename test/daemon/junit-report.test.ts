import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { runsToJson, runToJson, RUN_LIST_FORMAT } from '../../src/daemon/json-report.js';
import { RUN_TESTCASE_NAME, runsToJUnitXml, runToJUnitXml } from '../../src/daemon/junit-report.js';
import { xmlSafe } from '../../src/daemon/xml-text.js';
import type { RunRecord } from '../../src/scenario/run-record.js';
import { runRecord, step } from './helpers/run-records.js';

interface Attributes {
  [name: `@_${string}`]: string;
}
type Node = Attributes & { [child: string]: unknown; '#text'?: string };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  htmlEntities: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
});

// What XML 1.0 forbids outright; a strict parser (expat, libxml2) rejects the document.
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function parse(xml: string): { testsuites: Node & { testsuite: Node[] } } {
  expect(XMLValidator.validate(xml), 'well-formed').to.equal(true);
  expect(FORBIDDEN.test(xml), 'no characters XML 1.0 forbids').to.equal(false);
  return parser.parse(xml) as { testsuites: Node & { testsuite: Node[] } };
}

const testcases = (suite: Node): Node[] => suite.testcase as Node[];
const properties = (suite: Node): Record<string, string> =>
  Object.fromEntries(((suite.properties as Node).property as Node[]).map((p) => [p['@_name'], p['@_value']]));

describe('JUnit and JSON exports of run records', () => {
  const mixed: RunRecord = runRecord('run-mixed', {
    verdict: 'test-failed',
    reason: 'step 1 ended test-failed',
    steps: [
      step(0, 'passed'),
      step(1, 'test-failed'),
      step(2, 'device-fault'),
      step(3, 'timeout'),
      step(4, 'infra-error'),
      step(5, 'cancelled'),
      step(6, 'not-applicable'),
      step(7, null),
    ],
  });

  it('writes a testsuite per run and a testcase per step with the right counts', () => {
    const second = runRecord('run-ok', { boardId: 'board-02' });
    const doc = parse(runsToJUnitXml([mixed, second]));
    expect(doc.testsuites).to.include({ '@_name': 'sphere-rig', '@_tests': '11', '@_failures': '1', '@_errors': '3', '@_skipped': '3' });
    const [first, ok] = doc.testsuites.testsuite;
    expect(first).to.include({ '@_name': 'boot-smoke', '@_id': 'run-mixed', '@_hostname': 'board-01', '@_tests': '8', '@_failures': '1', '@_errors': '3', '@_skipped': '3' });
    expect(first!['@_time']).to.equal('4.900');
    expect(ok).to.include({ '@_tests': '3', '@_failures': '0', '@_errors': '0', '@_skipped': '0', '@_hostname': 'board-02' });
    expect(testcases(first!).map((c) => c['@_name'])).to.deep.equal(mixed.steps.map((s) => s.name));
    expect(testcases(first!)[0]).to.include({ '@_classname': 'boot-smoke.board-01', '@_time': '1.250' });
  });

  it('maps test-failed to <failure>, rig and device faults and timeouts to <error>, cancelled and not-applicable to <skipped>', () => {
    const cases = testcases(parse(runToJUnitXml(mixed)).testsuites.testsuite[0]!);
    const kinds = cases.map((c) => ['failure', 'error', 'skipped'].filter((k) => k in c));
    expect(kinds).to.deep.equal([[], ['failure'], ['error'], ['error'], ['error'], ['skipped'], ['skipped'], ['skipped']]);
    expect(cases[1]!.failure).to.include({ '@_type': 'test-failed', '@_message': 'step 1 ended test-failed', '#text': 'code-test-failed: step 1 ended test-failed' });
    expect((cases[2]!.error as Node)['@_type']).to.equal('device-fault');
    expect((cases[3]!.error as Node)['@_type']).to.equal('timeout');
    expect((cases[4]!.error as Node)['@_type']).to.equal('infra-error');
    expect((cases[5]!.skipped as Node)['@_message']).to.match(/^cancelled: /);
    expect((cases[6]!.skipped as Node)['@_message']).to.match(/^not-applicable: /);
    expect((cases[7]!.skipped as Node)['@_message']).to.equal('step did not run');
  });

  it('puts measurements in the step output, the console excerpt in the suite output, provenance in properties', () => {
    const suite = parse(runToJUnitXml(mixed)).testsuites.testsuite[0]!;
    expect(testcases(suite)[0]!['system-out']).to.equal('boot-ms = 812 ms (max 2000) PASS\nmatched console lines: 2');
    expect(suite['system-out']).to.equal(mixed.console.map((l) => `[${l.seq}] ${new Date(l.timestamp).toISOString()} ${l.text}`).join('\n'));
    expect(JSON.parse(suite['system-err'] as string)).to.deep.equal(mixed.errorReports);
    expect(properties(suite)).to.include({
      'run.id': 'run-mixed',
      'run.verdict': 'test-failed',
      'param.osVersion': '"24.10"',
      'provenance.daemonVersion': '0.1.0',
      'provenance.board.driver': 'emulated',
      'provenance.osVersionAfter': '24.10',
    });
    expect(properties(suite)['provenance.artefact.0']).to.contain('app.imagepackage').and.contain('sha256:cdcd').and.contain(`signed by CN=sphere-rig development-app (${'1f'.repeat(20)})`);
    expect(properties(suite)).to.not.have.property('provenance.board.usbSerial');
  });

  it('adds a (run) testcase when no step explains the run verdict, so an interrupted run is never green', () => {
    const interrupted = runRecord('run-int', {
      verdict: 'infra-error',
      reason: 'interrupted',
      steps: [step(0, 'passed'), step(1, null, { status: 'skipped' })],
    });
    const cancelledWhileQueued = runRecord('run-cq', { verdict: 'cancelled', reason: 'cancelled before it started', steps: [], startedAt: null });
    const [a, b] = parse(runsToJUnitXml([interrupted, cancelledWhileQueued])).testsuites.testsuite;
    const runCase = testcases(a!).at(-1)!;
    expect(runCase['@_name']).to.equal(RUN_TESTCASE_NAME);
    expect(runCase.error).to.include({ '@_type': 'infra-error', '@_message': 'interrupted' });
    expect(a).to.include({ '@_tests': '3', '@_errors': '1', '@_skipped': '1' });
    expect(testcases(b!)).to.have.length(1);
    expect(b).to.include({ '@_skipped': '1', '@_timestamp': cancelledWhileQueued.queuedAt });
  });

  it('names testcases uniquely within a suite: a repeated step name gets (2), (3), the (run) testcase keeps its name', () => {
    // Two unnamed steps of type `fault` are both named `fault` in the record.
    const fault = (index: number, verdict: 'passed' | 'device-fault') => step(index, verdict, { name: 'fault', type: 'fault' });
    const run = runRecord('run-dup', {
      verdict: 'infra-error',
      reason: 'interrupted',
      steps: [fault(0, 'passed'), step(1, 'passed', { name: 'fault (2)' }), fault(2, 'device-fault'), fault(3, 'passed'), step(4, 'passed', { name: RUN_TESTCASE_NAME })],
    });
    const [suite, other] = parse(runsToJUnitXml([run, runRecord('run-other', { steps: [fault(0, 'passed')] })])).testsuites.testsuite;
    const names = testcases(suite!).map((c) => c['@_name']);
    expect(names).to.deep.equal(['fault', 'fault (2)', 'fault (3)', 'fault (4)', `${RUN_TESTCASE_NAME} (2)`, RUN_TESTCASE_NAME]);
    // Each outcome stays with its own step.
    expect((testcases(suite!)[2]!.error as Node)['@_type']).to.equal('device-fault');
    expect((testcases(suite!).at(-1)!.error as Node)['@_type']).to.equal('infra-error');
    // Unique within a suite, not across suites: each run's steps keep their own names.
    expect(testcases(other!).map((c) => c['@_name'])).to.deep.equal(['fault']);
  });

  it('escapes <, &, quotes and keeps control characters visible but valid', () => {
    const nasty = 'expected <ready> & got "\u001b[31mFAIL\u001b[0m"\u0000\u0007 \ud800 tab\there\r\nnext\u000c';
    const run = runRecord('run-<&>', {
      scenario: 'a<b>&"c"',
      verdict: 'test-failed',
      steps: [step(0, 'test-failed', { name: `step <${nasty}>`, message: nasty, errorCode: 'code&<' })],
      console: [{ seq: 1, timestamp: 0, text: nasty }],
      params: { pattern: '<&>' },
    });
    const suite = parse(runToJUnitXml(run)).testsuites.testsuite[0]!;
    const visible = xmlSafe(nasty);
    expect(visible).to.equal('expected <ready> & got "\\x1B[31mFAIL\\x1B[0m"\\x00\\x07 \\uD800 tab\there\r\nnext\\x0C');
    expect(suite['@_name']).to.equal('a<b>&"c"');
    expect(suite['@_id']).to.equal('run-<&>');
    const testcase = testcases(suite)[0]!;
    expect(testcase['@_name']).to.equal(`step <${visible}>`);
    expect(testcase.failure).to.include({ '@_message': visible, '#text': `code&<: ${visible}` });
    expect(suite['system-out']).to.equal(`[1] 1970-01-01T00:00:00.000Z ${visible}`);
    expect(properties(suite)['param.pattern']).to.equal('"<&>"');
  });

  it('writes a valid empty report for no runs', () => {
    expect(parse(runsToJUnitXml([])).testsuites).to.include({ '@_tests': '0', '@_failures': '0' });
  });

  it('exports one run as its run record and several as a versioned list', () => {
    expect(JSON.parse(runToJson(mixed))).to.deep.equal(mixed);
    const list = JSON.parse(runsToJson([mixed, runRecord('b')])) as { format: string; version: number; runs: RunRecord[] };
    expect(list.format).to.equal(RUN_LIST_FORMAT);
    expect(list.version).to.equal(1);
    expect(list.runs.map((r) => r.id)).to.deep.equal(['run-mixed', 'b']);
  });
});
