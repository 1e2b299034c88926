import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliProcess, mapLimited } from '../helpers/cli-process.js';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const RIG = fileURLToPath(new URL('./fixtures/cli-rig.yaml', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('./fixtures/scenarios/', import.meta.url));
const QUICK_STEPS = ['step one', 'step two', 'step three', 'step four', 'step five', 'step six'];

/** A port nothing listens on yet, for a daemon the test starts after the CLI that waits for it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface BoardJson {
  id: string;
  health: { status: string; checking: boolean };
  lease: { holder: string } | null;
}

/**
 * The daemon's clients (run, boards, runs, watch, lease, release, cancel,
 * token) against one real daemon with two emulated boards, as a lab script
 * uses them: exit codes, live progress, Ctrl-C, leases and health.
 */
describe('sphere-rig client commands against a daemon', function () {
  this.timeout(180_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  /** `boards --wait-ready`, started before the daemon was. */
  let waitedForReady: CliResult;

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli([...args, '--state', stateDir], { timeoutMs: 120_000, env });
  const spawnCli = (args: string[]): CliProcess => new CliProcess([...args, '--state', stateDir], { timeoutMs: 150_000 });
  const board = async (id: string): Promise<BoardJson> => (await daemon.request<BoardJson>('GET', `/api/v1/boards/${id}`)).body;

  /** A board whose health check passed and that nothing holds: what each test starts from. */
  async function healthy(id: string): Promise<void> {
    const check = await daemon.request<{ runId: string }>('POST', `/api/v1/boards/${id}/health-check`);
    expect(check.status, JSON.stringify(check.body)).to.equal(202);
    const run = await daemon.waitForRun(check.body.runId);
    expect(run.verdict, String(run.reason)).to.equal('passed');
    expect((await board(id)).health.status).to.equal('good');
  }

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-cli-'));
    const port = await freePort();
    // The CLI first, with nothing listening yet: it must wait, not fail.
    const waiting = runCli(['boards', '--wait-ready', '90', '--daemon', `http://127.0.0.1:${port}`, '--state', stateDir], { timeoutMs: 150_000 });
    daemon = await DaemonProcess.start({ rig: RIG, stateDir, scenarios: SCENARIOS, port });
    waitedForReady = await waiting;
    await Promise.all(['emu-1', 'emu-2'].map(healthy));
  });

  after(async () => {
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('--wait-ready waits for a starting daemon to be ready, then lists every board with HEALTH and LEASE', () => {
    expect(waitedForReady.code, waitedForReady.stderr).to.equal(0);
    expect(waitedForReady.stderr).to.match(/waiting for the daemon at http:\/\/127\.0\.0\.1:\d+ to be ready \(at most 90 s\)/);
    const lines = waitedForReady.stdout.trim().split('\n');
    expect(lines[0]!.split(/\s+/)).to.deep.equal(['BOARD', 'DRIVER', 'STATE', 'HEALTH', 'OS', 'DEVICE', 'LEASE', 'RUN']);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).to.deep.equal(['emu-1', 'emu-2']);
  });

  it('exits 2 for the caller\'s mistakes: unknown scenario, board or parameter, a refused or missing token, an unknown run', async () => {
    const viewer = (await cli(['token', 'create', '--name', 'vera', '--role', 'viewer'])).stdout.trim();
    expect(viewer).to.match(/^srt_/);
    const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
      [['run', 'no-such-scenario', '--board', 'emu-1'], /no-such-scenario.*HTTP 404/],
      [['run', 'quick-steps', '--board', 'no-such-board'], /no-such-board.*HTTP 404/],
      [['run', 'quick-steps', '--board', 'emu-1', '--param', 'nope=1'], /nope.*HTTP 400/],
      [['run', 'quick-steps', '--board', 'emu-1', '--token', viewer], /operator.*"vera" has viewer.*HTTP 403/],
      [['token', 'create', '--name', 'x', '--role', 'admin', '--token', viewer], /needs the admin role; the token "vera" has viewer.*HTTP 403/],
      [['runs', '--token', 'srt_not_a_token'], /not valid.*HTTP 401/],
      [['watch', '--token', 'srt_not_a_token'], /refused the token for its event stream \(HTTP 401\)/],
      [['boards', 'health', 'no-such-board'], /no-such-board.*HTTP 404/],
      [['cancel', '00000000-0000-4000-8000-000000000000'], /00000000-0000-4000-8000-000000000000.*not queued or running/],
    ];
    const results = await mapLimited(cases, 3, ([args, , env]) => cli(args, env));
    cases.forEach(([args, says], i) => {
      const result = results[i]!;
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).to.equal(2);
      expect(result.stderr, args.join(' ')).to.match(says);
      expect(result.stderr, args.join(' ')).to.not.match(/infra-error/);
    });
    // No token at all: --daemon given, no token in flags, environment or the state folder.
    const empty = mkdtempSync(join(tmpdir(), 'sphere-rig-no-token-'));
    try {
      const result = await runCli(['boards', '--daemon', daemon.url, '--state', empty], { env: { SPHERE_RIG_TOKEN: '' }, timeoutMs: 30_000 });
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.contain('no API token: give --token or SPHERE_RIG_TOKEN');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('run prints every step of a quick run, every time (no event lost before the submission is answered)', async () => {
    // Six steps that take no time: often the run is over before the POST's answer reaches the CLI.
    // Ten runs, one after the other on each board (a run queued behind another would not race).
    const lane = async (boardId: string): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const result = await cli(['run', 'quick-steps', '--board', boardId]);
        expect(result.code, result.stdout + result.stderr).to.equal(0);
        const lines = result.stdout.split('\n');
        const steps = lines.filter((l) => l.startsWith(`  ${boardId}  passed `)).map((l) => /step \w+/.exec(l)?.[0]);
        expect(steps, `run ${i + 1} on ${boardId}:\n${result.stdout}`).to.deep.equal(QUICK_STEPS);
        expect(lines.findIndex((l) => l.startsWith('queued '))).to.be.lessThan(lines.findIndex((l) => l.startsWith('started ')));
        expect(lines.findIndex((l) => l.startsWith('started '))).to.be.lessThan(lines.findIndex((l) => l.includes('step one')));
      }
    };
    await Promise.all([lane('emu-1'), lane('emu-2')]);
  });

  it('lease and release: a run on a board leased by someone else says why it waits, and completes after release', async () => {
    const alice = (await cli(['token', 'create', '--name', 'alice', '--role', 'operator'])).stdout.trim();
    const leased = await cli(['lease', 'emu-2', '--ttl', '10m', '--token', alice]);
    expect(leased.code, leased.stderr).to.equal(0);
    expect(leased.stdout).to.match(/^emu-2 +leased to manual:alice until \d\d:\d\d:\d\dZ .*sphere-rig release emu-2/);

    // Released in any case, so a failure here does not hold the board for the tests after it.
    try {
      // Somebody else's board: acting on it is a conflict (3), releasing it is not ours to do (2).
      const [listing, power, notMine] = await Promise.all([cli(['boards']), cli(['boards', 'power', 'emu-2', 'off']), cli(['release', 'emu-2'])]);
      const row = listing.stdout.split('\n').find((l) => l.startsWith('emu-2'))!;
      expect(row, `boards exited ${listing.code}: ${listing.stdout}${listing.stderr}`).to.match(/ good +.* manual:alice until \d\d:\d\d:\d\dZ +-$/);
      expect(power.code, power.stderr).to.equal(3);
      expect(power.stderr).to.contain('manual:alice');
      expect(notMine.code).to.equal(2);
      expect(notMine.stderr).to.contain('emu-2 is leased by manual:alice');

      const run = spawnCli(['run', 'quick-steps', '--board', 'emu-2']);
      await run.waitForLine(/^waiting +emu-2 +.*manual:alice/);
      expect(run.stdout.some((l) => l.startsWith('started '))).to.equal(false);
      const released = await cli(['release', 'emu-2', '--token', alice]);
      expect(released.code, released.stderr).to.equal(0);
      expect(released.stdout).to.equal('emu-2  released\n');
      expect(await run.exited, run.output).to.equal(0);
      const started = run.stdout.findIndex((l) => l.startsWith('started '));
      expect(started, run.output).to.be.greaterThan(run.stdout.findIndex((l) => l.startsWith('waiting ')));
      expect(run.stdout.filter((l) => /passed +step /.test(l))).to.have.length(QUICK_STEPS.length);
    } finally {
      await cli(['release', 'emu-2', '--token', alice]);
    }
  });

  it('Ctrl-C during run cancels what it submitted, says so and exits 6; the run ends cancelled', async () => {
    const run = spawnCli(['run', 'hold', '--board', 'emu-1']);
    const started = await run.waitForLine(/^started /);
    const id = started.split(/\s+/)[1]!;
    run.kill('SIGINT');
    expect(await run.exited, run.output).to.equal(6);
    expect(run.stderr).to.include('cancelling 1 run (Ctrl-C); --detach leaves them running');
    expect(run.stdout.some((l) => /^CANCELLED +emu-1 +hold/.test(l)), run.output).to.equal(true);
    const record = await daemon.request<{ status: string; verdict: string }>('GET', `/api/v1/runs/${id}`);
    expect(record.body).to.deep.include({ status: 'finished', verdict: 'cancelled' });
  });

  it('--detach: Ctrl-C leaves the run going and says how to follow it; cancel stops it (and a second cancel exits 2)', async () => {
    const run = spawnCli(['run', 'hold', '--board', 'emu-2', '--detach']);
    const id = (await run.waitForLine(/^started /)).split(/\s+/)[1]!;
    run.kill('SIGINT');
    expect(await run.exited, run.output).to.equal(0);
    expect(run.stdout.join('\n')).to.contain(`sphere-rig watch --topics run:${id}`);
    expect((await daemon.request<{ status: string }>('GET', `/api/v1/runs/${id}`)).body.status).to.equal('running');

    const cancelled = await cli(['cancel', id]);
    expect(cancelled.code, cancelled.stderr).to.equal(0);
    expect(cancelled.stdout).to.equal(`cancelled  ${id}\n`);
    expect((await daemon.waitForRun(id)).verdict).to.equal('cancelled');
    const again = await cli(['cancel', id]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.contain(`run ${id} is not queued or running`);
  });

  it('watch prints one readable line per event, never raw JSON', async () => {
    const watch = spawnCli(['watch', '--topics', '*']);
    await watch.waitForLine(/^\[live\]/, 'stderr');
    const result = await cli(['run', 'fails-fast', '--board', 'emu-1']);
    expect(result.code, result.stdout + result.stderr).to.equal(1);
    const id = /^queued +(\S+)/m.exec(result.stdout)![1]!;
    await watch.waitForLine(new RegExp(`run ${id.slice(0, 8)} ended FAIL fails-fast on emu-1`));
    watch.kill('SIGINT');
    expect(await watch.exited).to.equal(0);
    for (const line of watch.stdout) {
      expect(line).to.match(/^\d\d:\d\d:\d\d\.\d{3} \S+ /);
      // A console line's text is the board's own; every other line is ours and has no JSON in it.
      if (!/^\S+ \S+ \| /.test(line)) expect(line).to.not.match(/[{}]|":/);
    }
    const ours = watch.stdout.filter((l) => l.includes(`run ${id.slice(0, 8)} `));
    for (const what of ['queued fails-fast on emu-1', 'started fails-fast on emu-1', 'step 0 OS version as expected started', 'measured os-version = ', 'step 0 OS version as expected FAIL']) {
      expect(ours.some((l) => l.includes(what)), `${what}\n${watch.output}`).to.equal(true);
    }
  });

  it('--hold-on-failure keeps the board of a failed run leased to the caller, and says how to release it', async () => {
    const result = await cli(['run', 'fails-fast', '--board', 'emu-1', '--hold-on-failure', '5']);
    expect(result.code, result.stdout + result.stderr).to.equal(1);
    expect(result.stdout).to.match(/emu-1 stays leased to you \(manual:local-admin\) until \d\d:\d\d:\d\dZ .*sphere-rig release emu-1/);
    expect((await board('emu-1')).lease?.holder).to.equal('manual:local-admin');
    const released = await cli(['release', 'emu-1']);
    expect(released.code, released.stderr).to.equal(0);
    expect((await board('emu-1')).lease).to.equal(null);
  });

  it('runs has a header, durations and reasons; --kind health-check shows the health checks', async () => {
    const all = await cli(['runs', '--limit', '100']);
    expect(all.code, all.stderr).to.equal(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^WHEN \(UTC\) +RESULT +SCENARIO +BOARD +DURATION +(KIND +)?ID +WHY$/);
    const cancelled = lines.find((l) => / cancelled +hold +emu-1 /.test(l));
    expect(cancelled, all.stdout).to.match(/ \d+(ms|\.\ds|s) .* cancelled by request/);
    const checks = await cli(['runs', '--kind', 'health-check']);
    expect(checks.code, checks.stderr).to.equal(0);
    const rows = checks.stdout.trim().split('\n').slice(1, -1);
    expect(rows.length, checks.stdout).to.be.greaterThan(1);
    for (const row of rows) expect(row).to.match(/ health-check +[0-9a-f-]{36} /);
  });

  it('boards health shows the health; --check follows a health check and exits with its verdict', async () => {
    const check = await cli(['boards', 'health', 'emu-1', '--check']);
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    expect(check.stdout).to.match(/^PASS +emu-1 +health-check/m);
    expect(check.stdout).to.match(/^emu-1 +health good/m);
    const json = await cli(['boards', 'health', 'emu-1', '--json']);
    expect(JSON.parse(json.stdout)).to.deep.include({ status: 'good', checking: false });
  });

  it('boards recover recovers a board to the baseline over its recovery UART, follows it and exits with its verdict', async () => {
    const recovered = await cli(['boards', 'recover', 'emu-1'], {});
    expect(recovered.code, recovered.stdout + recovered.stderr).to.equal(0);
    expect(recovered.stdout).to.match(/^PASS +emu-1 +recover-baseline/m);
    expect(recovered.stdout).to.match(/^emu-1 +health good/m);
    expect((await cli(['boards', 'recover', 'no-such-board'])).code).to.equal(2);
  });

  it('boards maintenance on/off drains and returns a board; boards shows it', async () => {
    const on = await cli(['boards', 'maintenance', 'emu-2', 'on', '--reason', 'cable swap']);
    expect(on.code, on.stderr).to.equal(0);
    expect(on.stdout).to.match(/^emu-2 +health maintenance: cable swap/);
    expect((await cli(['boards'])).stdout).to.match(/^emu-2 .* maintenance /m);
    const off = await cli(['boards', 'maintenance', 'emu-2', 'off']);
    expect(off.code, off.stderr).to.equal(0);
    expect(off.stdout).to.match(/^emu-2 +health unknown/);
    // Back in service after the health check it queued.
    expect((await cli(['boards', 'health', 'emu-2', '--check'])).code).to.equal(0);
    expect((await board('emu-2')).health.status).to.equal('good');
  });
});
