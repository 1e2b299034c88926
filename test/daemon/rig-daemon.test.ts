import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { runCli } from '../helpers/run-cli.js';
import { StreamClient } from './helpers/stream-client.js';

const RIG = fileURLToPath(new URL('./fixtures/test-rig.yaml', import.meta.url));
const EXTRA_SCENARIOS = fileURLToPath(new URL('./fixtures/scenarios/', import.meta.url));

interface Board {
  id: string;
  state: string;
  driver: string;
  tenant: string | null;
}

describe('the rig daemon (sphere-rig up) with emulated boards, their emulator-only trace switched off', function () {
  this.timeout(600_000);
  let stateDir: string;
  let daemon: DaemonProcess;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-daemon-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir, scenarios: EXTRA_SCENARIOS });
  });

  after(async () => {
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCli([...args, '--state', stateDir], { timeoutMs: 300_000 });

  it('brings up four emulated boards claimed to the tenant, and lists a missing real board as offline', async () => {
    const { status, body } = await daemon.request<Board[]>('GET', '/api/v1/boards');
    expect(status).to.equal(200);
    const emulated = body.filter((b) => b.driver === 'emulated');
    expect(emulated.map((b) => [b.id, b.state, b.tenant])).to.deep.equal([
      ['emu-1', 'ready', 'lab'],
      ['emu-2', 'ready', 'lab'],
      ['emu-3', 'ready', 'lab'],
      ['emu-4', 'ready', 'lab'],
    ]);
    expect(body.find((b) => b.id === 'bench-1')).to.deep.include({ driver: 'mt3620', state: 'offline' });
  });

  it('runs attestation on every board and writes JUnit that a JUnit parser accepts', async () => {
    const junit = join(stateDir, 'attestation.xml');
    const result = await cli(['run', 'attestation', '--tags', 'emulated', '--junit', junit]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout.match(/^PASS +emu-\d +attestation$/gm)).to.have.length(4);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(junit, 'utf8'));
    const suites = [xml.testsuites.testsuite].flat();
    expect(suites).to.have.length(4);
    expect(xml.testsuites.failures).to.equal('0');
    expect(xml.testsuites.errors).to.equal('0');
    for (const suite of suites) expect([suite.testcase].flat().length).to.be.greaterThan(1);
  });

  for (const [scenario, params] of [
    ['boot-smoke', []],
    ['sideload-update', []],
    ['update-rollback', []],
    ['downgrade', []],
    ['bad-signature', []],
    ['dev-mode', []],
    ['crash-report', []],
    ['attestation-untrusted-os', []],
    ['power-cut-update', ['--sample', '6']],
    ['recovery', []],
  ] as Array<[string, string[]]>) {
    it(`${scenario} passes on an emulated board judged only by real-board surfaces`, async () => {
      const result = await cli(['run', scenario, '--board', 'emu-2', '--json', ...params]);
      const report = JSON.parse(result.stdout) as { runs: Array<{ id: string; verdict: string; reason: string | null }> };
      expect(report.runs[0]!.verdict, `${report.runs[0]!.reason}\n${result.stderr}`).to.equal('passed');
      expect(result.code).to.equal(0);
      if (scenario === 'recovery') {
        // The recovery step's progress went out on the stream while it ran, not only in the final record.
        const replay = await StreamClient.connect(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:${report.runs[0]!.id}&since=0&token=${daemon.token}`);
        await replay.waitForControl('live');
        await replay.close();
        const types = replay.events.map((event) => event.type);
        const progress = replay.events.filter((event) => event.type === 'step.progress').map((event) => (event.payload as { message: string }).message);
        expect(progress.length, types.join(' ')).to.be.greaterThan(1);
        expect(progress.filter((message) => /^recovering: \d+ of \d+ images to go$/.test(message)), progress.join(' / ')).to.not.be.empty;
        expect(types.indexOf('step.progress')).to.be.lessThan(types.lastIndexOf('step.ended'));
      }
    });
  }

  it('exits with the verdict of a failing run and exports it', async () => {
    const result = await cli(['run', 'fails', '--board', 'emu-3', '--json']);
    expect(result.code, result.stderr).to.equal(1);
    const report = JSON.parse(result.stdout) as { runs: Array<{ id: string; verdict: string }> };
    expect(report.runs[0]!.verdict).to.equal('test-failed');
    const junit = await daemon.request<string>('GET', `/api/v1/runs/${report.runs[0]!.id}/junit`);
    expect(junit.body).to.contain('<failure');
  });

  it('refuses a run on the missing real board (bad: offline) as an infrastructure fault, saying why', async () => {
    const result = await cli(['run', 'boot-smoke', '--board', 'bench-1']);
    expect(result.code).to.equal(3);
    expect(result.stderr).to.match(/board bench-1 is bad \(offline: /);
  });

  it('after SIGKILL with 8 runs in flight, keeps finished runs, marks the others interrupted, and runs again', async () => {
    const finished = await daemon.request<{ runs: Array<{ id: string }> }>('GET', '/api/v1/runs?status=finished&limit=1000');
    const before = finished.body.runs.length;
    const submitted = await daemon.request<{ runs: Array<{ id: string }> }>('POST', '/api/v1/runs', { scenario: 'slow', tags: ['emulated'] });
    const more = await daemon.request<{ runs: Array<{ id: string }> }>('POST', '/api/v1/runs', { scenario: 'slow', tags: ['emulated'] });
    const inFlight = [...submitted.body.runs, ...more.body.runs].map((r) => r.id);
    expect(inFlight).to.have.length(8);
    await daemon.stop('SIGKILL');
    daemon = await DaemonProcess.start({ rig: RIG, stateDir, scenarios: EXTRA_SCENARIOS });
    const after = await daemon.request<{ runs: Array<{ id: string }> }>('GET', '/api/v1/runs?status=finished&limit=1000');
    expect(after.body.runs.length).to.equal(before + 8);
    for (const id of inFlight) {
      const { body } = await daemon.request<{ verdict: string; reason: string }>('GET', `/api/v1/runs/${id}`);
      expect(body).to.deep.include({ verdict: 'infra-error', reason: 'interrupted' });
    }
    const again = await cli(['run', 'boot-smoke', '--tags', 'emulated']);
    expect(again.code, again.stdout + again.stderr).to.equal(0);
  });

  it('stops on SIGTERM within seconds, its emulator with it', async () => {
    // The emulator child used to outlive its clean stop (its stdin pipe kept it alive) until the daemon's 10 s SIGKILL.
    const started = Date.now();
    const code = await daemon.stop('SIGTERM');
    expect(code).to.equal(0);
    expect(Date.now() - started).to.be.below(5000);
  });
});
