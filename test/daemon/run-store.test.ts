import Database from 'better-sqlite3';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { INTERRUPTED_REASON, RunStore, RunStoreError } from '../../src/daemon/run-store.js';
import { SqliteStateError } from '../../src/util/sqlite-file.js';
import { InputError } from '../../src/util/failure.js';
import { runRecord, step } from './helpers/run-records.js';
import { sleep, TempDir } from './helpers/temp-dir.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('RunStore: run records in SQLite', () => {
  let dir: TempDir;
  let store: RunStore;

  beforeEach(() => {
    dir = new TempDir();
    store = RunStore.open(dir.file('runs.sqlite'));
  });

  afterEach(() => {
    store.close();
    dir.remove();
  });

  it('gives back exactly the record it was given, steps, console, provenance and error reports included', () => {
    const record = runRecord('r1');
    store.create(record);
    expect(store.get('r1')).to.deep.equal(record);
    expect(store.get('nope')).to.equal(null);
    expect(() => store.create(record)).to.throw(RunStoreError).with.property('code', 'run-exists');
  });

  it('keeps the device logs a run collected (schema 4); lists leave them out', () => {
    const entry = { offset: 0, timestampMs: 1500, priority: 'Info', module: 'gatewayd', messageId: 1, messageName: 'StartingSideload', params: {}, line: '[    1.500000] Info gatewayd(1): Starting component sideload ' };
    const record = runRecord('logged', { deviceLog: [{ collectedAt: '2025-03-01T10:00:04.000Z', bytes: 65536, entryCount: 1, omitted: 0, problems: [], entries: [entry] }] });
    store.create(record);
    expect(store.get('logged')).to.deep.equal(record);
    expect(store.list().runs[0]).not.to.have.property('deviceLog');
    store.update('logged', { reason: 'kept' });
    expect(store.get('logged')!.deviceLog).to.deep.equal(record.deviceLog);
  });

  it('follows a run as it goes: status, steps one at a time, console lines, the end', () => {
    store.create(runRecord('r1', { status: 'queued', verdict: null, startedAt: null, endedAt: null, steps: [], console: [], provenance: null, errorReports: [] }));
    store.update('r1', { status: 'running', startedAt: '2025-03-01T10:00:00.100Z' });
    store.saveStep('r1', step(0, null, { status: 'running', startedAt: '2025-03-01T10:00:00.200Z' }));
    store.appendConsole('r1', [{ seq: 7, timestamp: 1, text: 'booting' }]);
    store.saveStep('r1', step(0, 'passed'));
    store.saveStep('r1', step(1, 'test-failed'));
    store.appendConsole('r1', [{ seq: 8, timestamp: 2, text: '[PLUTON] Booting HLOS core', channel: 'recovery-uart' }]);
    const summary = store.update('r1', { status: 'finished', verdict: 'test-failed', reason: 'step 1 ended test-failed', endedAt: '2025-03-01T10:00:09.000Z' });
    expect(summary).to.include({ id: 'r1', status: 'finished', verdict: 'test-failed', stepCount: 2 });

    const run = store.get('r1')!;
    expect(run.steps.map((s) => [s.index, s.verdict])).to.deep.equal([
      [0, 'passed'],
      [1, 'test-failed'],
    ]);
    // A line keeps the board output it came from; one recorded without a channel reads back without one.
    expect(run.console).to.deep.equal([
      { seq: 7, timestamp: 1, text: 'booting' },
      { seq: 8, timestamp: 2, text: '[PLUTON] Booting HLOS core', channel: 'recovery-uart' },
    ]);
    expect(() => store.saveStep('ghost', step(0, 'passed'))).to.throw(RunStoreError).with.property('code', 'run-not-found');
  });

  it('save replaces a whole record, dropping steps and lines it no longer has', () => {
    store.save(runRecord('r1', {}, 5, 10));
    store.save(runRecord('r1', { verdict: 'timeout' }, 2, 1));
    const run = store.get('r1')!;
    expect(run.verdict).to.equal('timeout');
    expect(run.steps).to.have.length(2);
    expect(run.console).to.have.length(1);
  });

  it('lists runs newest first with filters on scenario, board, verdict, status, time, limit and offset', () => {
    const verdicts = ['passed', 'test-failed', 'device-fault', 'passed', 'timeout'] as const;
    for (let i = 0; i < 30; i++) {
      const verdict = verdicts[i % verdicts.length]!;
      store.create(
        runRecord(`run-${String(i).padStart(2, '0')}`, {
          scenario: i % 2 ? 'ota-update' : 'boot-smoke',
          boardId: `board-0${i % 3}`,
          status: i >= 27 ? (i === 29 ? 'queued' : 'running') : 'finished',
          verdict: i >= 27 ? null : verdict,
          queuedAt: new Date(Date.parse('2025-03-01T00:00:00Z') + i * 3600_000).toISOString(),
        }),
      );
    }
    const all = store.list({ limit: 100 });
    expect(all.total).to.equal(30);
    expect(all.runs[0]!.id).to.equal('run-29');
    expect(all.runs[0]).to.not.have.property('steps');
    expect(all.runs[0]!.stepCount).to.equal(3);

    const ids = (filter: Parameters<RunStore['list']>[0]): string[] => store.list(filter).runs.map((r) => r.id);
    expect(ids({ scenario: 'ota-update', boardId: 'board-01', limit: 100 })).to.deep.equal(['run-25', 'run-19', 'run-13', 'run-07', 'run-01']);
    expect(ids({ verdict: 'device-fault' })).to.deep.equal(['run-22', 'run-17', 'run-12', 'run-07', 'run-02']);
    expect(ids({ verdict: ['timeout', 'test-failed'], from: '2025-03-01T10:00:00Z', to: '2025-03-01T20:00:00Z' })).to.deep.equal(['run-19', 'run-16', 'run-14', 'run-11']);
    expect(ids({ status: ['queued', 'running'] })).to.deep.equal(['run-29', 'run-28', 'run-27']);
    const page = store.list({ limit: 5, offset: 10 });
    expect(page.total).to.equal(30);
    expect(page.runs.map((r) => r.id)).to.deep.equal(['run-19', 'run-18', 'run-17', 'run-16', 'run-15']);
    expect(store.list({ limit: 100_000 }).runs).to.have.length(30);
    expect(() => store.list({ limit: 0 })).to.throw(InputError);
    expect(() => store.list({ from: 'yesterday' })).to.throw(InputError).with.property('code', 'bad-time');
    expect(store.counts()).to.deep.equal({
      byStatus: { queued: 1, running: 2, finished: 27 },
      finishedByVerdict: { passed: 11, 'test-failed': 6, 'device-fault': 5, timeout: 5 },
    });
  });

  it('markInterrupted finishes queued and running runs as infra-error "interrupted" and leaves finished runs alone', () => {
    const finished = runRecord('done', { verdict: 'test-failed', reason: 'assertion' });
    store.create(finished);
    store.create(runRecord('waiting', { status: 'queued', verdict: null, startedAt: null, endedAt: null, steps: [] }));
    store.create(
      runRecord('busy', {
        status: 'running',
        verdict: null,
        endedAt: null,
        steps: [step(0, 'passed'), step(1, null, { status: 'running', startedAt: '2025-03-01T10:00:02.000Z' }), step(2, null)],
      }),
    );

    const marked = store.markInterrupted(new Date('2025-03-01T10:00:12.000Z'));
    expect(marked.sort()).to.deep.equal(['busy', 'waiting']);
    expect(store.get('done')).to.deep.equal(finished);
    for (const id of ['busy', 'waiting']) {
      expect(store.get(id)).to.include({ status: 'finished', verdict: 'infra-error', reason: INTERRUPTED_REASON, endedAt: '2025-03-01T10:00:12.000Z' });
    }
    const busy = store.get('busy')!;
    expect(busy.steps.map((s) => [s.status, s.verdict])).to.deep.equal([
      ['finished', 'passed'],
      ['finished', 'infra-error'],
      ['skipped', null],
    ]);
    expect(busy.steps[1]).to.include({ durationMs: 10_000, errorCode: 'interrupted' });
    expect(store.markInterrupted()).to.deep.equal([]);
  });

  it('keeps its schema version and refuses a file from a newer sphere-rig', () => {
    store.close();
    const raw = new Database(dir.file('runs.sqlite'));
    expect(raw.pragma('user_version', { simple: true })).to.equal(4);
    expect(raw.pragma('journal_mode', { simple: true })).to.equal('wal');
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => RunStore.open(dir.file('runs.sqlite'))).to.throw(SqliteStateError).with.property('code', 'state-file-too-new');
    const other = dir.file('other.sqlite');
    store = RunStore.open(other);
  });

  it('is readable and whole after the writing process is SIGKILLed mid-way', async function () {
    this.timeout(30_000);
    store.close();
    const path = dir.file('killed.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./helpers/run-store-writer-child.ts', import.meta.url)), path], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`writer exited early with ${String(code)}`)));
    });
    await sleep(150 + Math.random() * 200);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).to.equal('ok');
    raw.close();

    store = RunStore.open(path);
    const { runs, total } = store.list({ limit: 1000 });
    expect(total).to.be.at.least(20);
    for (const summary of runs) {
      const run = store.get(summary.id)!;
      // Each write was one transaction: a run is there whole (20 steps, 200 lines) or not at all.
      expect(run.console, summary.id).to.have.length(200);
      if (run.status === 'finished') expect(run.steps, summary.id).to.have.length(21);
      else expect(run.steps.length, summary.id).to.be.oneOf([20, 21]);
    }
    const open = runs.filter((r) => r.status !== 'finished').map((r) => r.id);
    expect(open.length).to.be.at.most(1);
    expect(store.markInterrupted()).to.deep.equal(open);
    expect(store.list({ status: ['queued', 'running'] }).total).to.equal(0);
  });
});
