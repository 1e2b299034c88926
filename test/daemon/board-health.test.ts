import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess, type FinishedRun } from '../helpers/daemon-process.js';
import { StreamClient } from './helpers/stream-client.js';

/**
 * Board health through a real daemon with emulated boards: checks at start and
 * after a run that leaves a board in doubt, bad boards out of service, drained
 * boards, held boards, readiness, and runs cut short by a daemon kill.
 */
const RIG = fileURLToPath(new URL('./fixtures/health-rig.yaml', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('./fixtures/health-scenarios/', import.meta.url));

interface Health {
  status: string;
  reason: string | null;
  checking: boolean;
  lastCheck: { runId: string; verdict: string } | null;
}
interface BoardJson {
  id: string;
  state: string;
  health: Health;
  waiting: string | null;
  lease: { holder: string } | null;
  lastRun: { id: string; verdict: string } | null;
}
interface RunJson extends FinishedRun {
  id: string;
  kind: string;
  scenario: string;
  boardId: string;
  startedAt: string | null;
  steps: Array<{ name: string; status: string; verdict: string | null; errorCode: string | null; durationMs: number | null }>;
  console: Array<{ text: string }>;
  provenance: { board: { id: string }; osVersionBefore: string | null } | null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('board health: checks, bad boards, maintenance, holds and readiness (daemon)', function () {
  this.timeout(300_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let stream: StreamClient;
  const answers: Array<{ ready: boolean; boards: number; expectedBoards: number }> = [];

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-health-'));
    const port = await freePort();
    // Ask for readiness from before the daemon listens until it says it is up.
    let up = false;
    const polling = (async () => {
      while (!up) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { signal: AbortSignal.timeout(5000) });
          answers.push((await response.json()) as (typeof answers)[number]);
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      daemon = await DaemonProcess.start({ rig: RIG, stateDir, scenarios: SCENARIOS, port });
    } finally {
      up = true;
      await polling;
    }
    stream = await StreamClient.connect(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:*,board:*&token=${daemon.token}`);
  });

  after(async () => {
    await stream?.close();
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const board = async (id: string) => (await daemon.request<BoardJson>('GET', `/api/v1/boards/${id}`)).body;
  const run = async (id: string) => (await daemon.request<RunJson>('GET', `/api/v1/runs/${id}`)).body;
  const healthEvent = (boardId: string, to: string) =>
    stream.waitForEvent((e) => e.type === 'board.health' && (e.payload as { boardId: string }).boardId === boardId && (e.payload as { to: string }).to === to && !(e.payload as { checking?: boolean }).checking, 120_000, `${boardId} health ${to}`);
  const checksOf = async (boardId: string) =>
    (await daemon.request<{ runs: RunJson[] }>('GET', `/api/v1/runs?board=${boardId}&kind=health-check&limit=100`)).body.runs;

  it('answers ready: false until every configured board is registered, then ready: true', async () => {
    const notReady = answers.filter((a) => !a.ready);
    expect(notReady.length, 'the daemon answered health before its boards were registered').to.be.greaterThan(0);
    expect(notReady.every((a) => a.expectedBoards === 3)).to.equal(true);
    for (const answer of answers.filter((a) => a.ready)) expect(answer.boards).to.equal(3);
    const { body } = await daemon.request<{ ready: boolean; boards: number; daa: string }>('GET', '/api/v1/health', undefined, null);
    expect(body).to.deep.include({ ready: true, boards: 3, daa: 'up' });
  });

  it('health-checks every board at start: the emulated ones pass and are good, the missing real one is bad (offline)', async () => {
    for (const id of ['emu-1', 'emu-2']) {
      if ((await board(id)).health.status !== 'good') await healthEvent(id, 'good');
      const checks = await checksOf(id);
      expect(checks.map((c) => [c.scenario, c.verdict])).to.deep.equal([['health-check', 'passed']]);
    }
    const bench = await board('bench-1');
    expect(bench.health.status).to.equal('bad');
    expect(bench.health.reason).to.match(/^offline: /);
    const refused = await daemon.request<{ error: { code: string; message: string } }>('POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'bench-1' });
    expect(refused.status).to.equal(409);
    expect(refused.body.error.code).to.equal('board-unavailable');
    // Acting on a board the rig cannot reach is a conflict that says why, not a 500.
    const action = await daemon.request<{ error: { code: string; message: string } }>('POST', '/api/v1/boards/bench-1/actions', { action: 'power-on' });
    expect([action.status, action.body.error.code]).to.deep.equal([409, 'board-offline']);
    expect(action.body.error.message).to.match(/^board bench-1 is offline: /);
  });

  it('power-cut-update with no sample sweeps every cut point and passes', async () => {
    const [id] = await daemon.submit({ scenario: 'power-cut-update', boardId: 'emu-1' });
    const finished = (await daemon.waitForRun(id!, 240_000)) as RunJson;
    expect(finished.verdict, finished.reason ?? '').to.equal('passed');
    const sweep = finished.steps.find((s) => s.name === 'every cut point') as unknown as { measurements: Array<{ name: string; value: number }> };
    const total = sweep.measurements.find((m) => m.name === 'flash operations per update')!.value;
    expect(sweep.measurements.find((m) => m.name === 'cut points checked')!.value).to.equal(total).and.to.be.greaterThan(1);
  });

  it('a sweep cancelled mid-way leaves its board powered and good, checked before the next run, which passes at once', async () => {
    const from = stream.lastSeq;
    const [id] = await daemon.submit({ scenario: 'power-cut-update', boardId: 'emu-1' });
    // Cancel once a power cut has taken the board down.
    await stream.waitForEvent((e) => e.seq > from && e.type === 'board.state' && (e.payload as { boardId: string }).boardId === 'emu-1' && (e.payload as { to: string }).to === 'off', 120_000, 'a power cut on emu-1');
    expect((await daemon.request('POST', `/api/v1/runs/${id}/cancel`)).status).to.equal(200);
    const [next] = await daemon.submit({ scenario: 'attestation', boardId: 'emu-1' });
    const cancelled = await daemon.waitForRun(id!);
    expect(cancelled.verdict).to.equal('cancelled');
    const attestation = (await daemon.waitForRun(next!)) as RunJson;
    expect(attestation.verdict, attestation.reason ?? '').to.equal('passed');
    const check = (await checksOf('emu-1')).find((c) => c.startedAt && c.startedAt > cancelled.endedAt! && c.startedAt <= attestation.startedAt!);
    expect(check, 'a health check ran between the cancelled sweep and the next run').to.not.equal(undefined);
    expect(check!.verdict).to.equal('passed');
    const after = await board('emu-1');
    expect([after.state, after.health.status]).to.deep.equal(['ready', 'good']);
  });

  it('a step that needs a powered board fails at once as device-fault on a board that is off; the board is then checked and good', async () => {
    const from = stream.lastSeq;
    const [id] = await daemon.submit({ scenario: 'off-then-expect', boardId: 'emu-2' });
    const finished = (await daemon.waitForRun(id!)) as RunJson;
    expect(finished.verdict).to.equal('device-fault');
    const step = finished.steps.find((s) => s.name === 'ready (never, the board is off)')!;
    expect(step.errorCode).to.equal('board-off');
    expect(step.durationMs!).to.be.below(10_000);
    await stream.waitForEvent((e) => e.seq > from && e.type === 'board.health' && (e.payload as { to: string }).to === 'unknown', 10_000, 'emu-2 health unknown');
    const [next] = await daemon.submit({ scenario: 'attestation', boardId: 'emu-2' });
    expect((await daemon.waitForRun(next!)).verdict).to.equal('passed');
    expect((await board('emu-2')).state).to.equal('ready');
  });

  it('a board that fails its health check is bad: it takes no runs, tagged runs pass it over, /metrics says so; a passing check restores it', async () => {
    const { body: trust } = await daemon.request<unknown>('GET', '/daa/tenants/lab/reference-values');
    const [distrust] = await daemon.submit({ scenario: 'distrust-os', boardId: 'emu-1' });
    expect((await daemon.waitForRun(distrust!)).verdict).to.equal('passed');
    try {
      const asked = await daemon.request<{ runId: string }>('POST', '/api/v1/boards/emu-1/health-check');
      expect(asked.status).to.equal(202);
      const check = await daemon.waitForRun(asked.body.runId);
      expect(check.verdict).to.equal('test-failed');
      const bad = await board('emu-1');
      expect(bad.health.status).to.equal('bad');
      expect(bad.health.reason).to.match(/^health check test-failed: attests: attestation refused/);
      const refused = await daemon.request<{ error: { code: string } }>('POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'emu-1' });
      expect([refused.status, refused.body.error.code]).to.deep.equal([409, 'board-unavailable']);
      const tagged = await daemon.request<{ runs: Array<{ id: string; boardId: string }> }>('POST', '/api/v1/runs', { scenario: 'attestation', tags: ['emulated'] });
      expect(tagged.body.runs.map((r) => r.boardId)).to.deep.equal(['emu-2']);
      await daemon.waitForRun(tagged.body.runs[0]!.id);
      const metrics = (await daemon.request<string>('GET', '/metrics')).body;
      expect(metrics).to.include('sphere_rig_board_health_info{board="emu-1",health="bad"} 1');
      expect(metrics).to.match(/^sphere_rig_board_health\{health="bad"\} 2$/m);
    } finally {
      await daemon.request('PUT', '/daa/tenants/lab/reference-values', trust);
    }
    const again = await daemon.request<{ runId: string }>('POST', '/api/v1/boards/emu-1/health-check');
    expect((await daemon.waitForRun(again.body.runId)).verdict).to.equal('passed');
    expect((await board('emu-1')).health.status).to.equal('good');
  });

  it('maintenance drains a board: a run asked for it waits saying why, tagged runs go elsewhere; back in service it is checked and runs it', async () => {
    const drained = await daemon.request<Health>('PUT', '/api/v1/boards/emu-2/health', { status: 'maintenance', reason: 'reflashing the FTDI EEPROM' });
    expect(drained.body).to.deep.include({ status: 'maintenance', reason: 'reflashing the FTDI EEPROM' });
    const asked = await daemon.request<{ runs: Array<{ id: string; status: string; waiting: string | null }> }>('POST', '/api/v1/runs', { scenario: 'attestation', boardId: 'emu-2' });
    expect(asked.status).to.equal(201);
    const waiting = asked.body.runs[0]!;
    expect(waiting.status).to.equal('queued');
    expect(waiting.waiting).to.equal('board emu-2 is in maintenance (reflashing the FTDI EEPROM)');
    await stream.waitForEvent((e) => e.type === 'run.waiting' && (e.payload as { runId: string }).runId === waiting.id, 10_000, 'run.waiting');
    expect((await board('emu-2')).waiting).to.equal('board emu-2 is in maintenance (reflashing the FTDI EEPROM)');
    const tagged = await daemon.request<{ runs: Array<{ id: string; boardId: string }> }>('POST', '/api/v1/runs', { scenario: 'attestation', tags: ['emulated'] });
    expect(tagged.body.runs.map((r) => r.boardId)).to.deep.equal(['emu-1']);
    await daemon.waitForRun(tagged.body.runs[0]!.id);
    const checksBefore = (await checksOf('emu-2')).length;
    expect((await daemon.request('PUT', '/api/v1/boards/emu-2/health', { status: 'unknown' })).status).to.equal(200);
    const finished = (await daemon.waitForRun(waiting.id)) as RunJson;
    expect(finished.verdict).to.equal('passed');
    const checks = await checksOf('emu-2');
    expect(checks.length).to.equal(checksBefore + 1);
    expect(checks[0]!.startedAt! < finished.startedAt!).to.equal(true);
  });

  it('--hold-on-failure keeps the board leased to the caller after a failed run; release lets the next run start', async () => {
    const [failing] = await daemon.submit({ scenario: 'fails', boardId: 'emu-1', holdOnFailureMinutes: 5 });
    expect((await daemon.waitForRun(failing!)).verdict).to.equal('test-failed');
    const held = await board('emu-1');
    expect(held.lease?.holder).to.match(/^manual:/);
    const [next] = await daemon.submit({ scenario: 'attestation', boardId: 'emu-1' });
    expect((await run(next!)).waiting).to.match(/^board emu-1 is leased by manual:.* until /);
    expect((await daemon.request('DELETE', '/api/v1/boards/emu-1/lease')).status).to.equal(204);
    expect((await daemon.waitForRun(next!)).verdict).to.equal('passed');
  });

  it('recovers a board stuck in ROM to the baseline OS through the API (POST /boards/{id}/recover), which counts as a health check', async () => {
    const [brick] = await daemon.submit({ scenario: 'brick', boardId: 'emu-1' });
    expect((await daemon.waitForRun(brick!)).verdict).to.equal('passed');
    expect((await board('emu-1')).state).to.equal('broken');
    const asked = await daemon.request<{ runId: string }>('POST', '/api/v1/boards/emu-1/recover');
    expect(asked.status).to.equal(202);
    const recovery = (await daemon.waitForRun(asked.body.runId, 240_000)) as RunJson;
    expect([recovery.kind, recovery.scenario, recovery.verdict], recovery.reason ?? '').to.deep.equal(['health-check', 'recover-baseline', 'passed']);
    const after = await board('emu-1');
    expect([after.state, after.health.status, after.health.lastCheck?.runId]).to.deep.equal(['ready', 'good', asked.body.runId]);
    expect((await daemon.request<{ osVersion: string }>('GET', '/api/v1/boards/emu-1')).body.osVersion).to.equal('22.11');
  });

  it('a run cut short by a daemon kill keeps its console lines, provenance and passed steps; the running step says it was interrupted', async () => {
    const [id] = await daemon.submit({ scenario: 'boot-then-wait', boardId: 'emu-2' });
    await stream.waitForEvent((e) => e.type === 'step.started' && (e.payload as { runId: string; name: string }).runId === id && (e.payload as { name: string }).name === 'hold', 120_000, 'the hold step');
    const seen = stream.lastSeq;
    await stream.close();
    await daemon.stop('SIGKILL');
    daemon = await daemon.restart();
    stream = await StreamClient.connect(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:*,board:*&since=${seen}&token=${daemon.token}`);
    // The restarted daemon announces the end of the run it found interrupted.
    const ended = await stream.waitForEvent((e) => e.type === 'run.ended' && (e.payload as { runId: string }).runId === id, 30_000, 'run.ended of the interrupted run');
    expect(ended.payload).to.deep.include({ verdict: 'infra-error', reason: 'interrupted' });
    const record = await run(id!);
    expect([record.status, record.verdict, record.reason]).to.deep.equal(['finished', 'infra-error', 'interrupted']);
    expect(record.steps.map((s) => [s.name, s.verdict])).to.deep.equal([
      ['power-cycle', 'passed'],
      ['services up', 'passed'],
      ['hold', 'infra-error'],
    ]);
    expect(record.steps[2]!.errorCode).to.equal('interrupted');
    expect(record.console.some((l) => /^\[OS\] services up$/.test(l.text)), `console: ${record.console.length} lines`).to.equal(true);
    expect(record.provenance?.board.id).to.equal('emu-2');
    expect(record.provenance?.osVersionBefore).to.be.a('string');
  });
});
