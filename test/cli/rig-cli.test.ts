import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapLimited } from '../helpers/cli-process.js';
import { runCli } from '../helpers/run-cli.js';

/** `sphere-rig run --wait` and `watch` against no daemon: one clear line, at once, never a hang. */
describe('sphere-rig run and watch without a daemon', () => {
  // Port 9 (discard) on loopback: nothing listens there.
  const nowhere = ['--daemon', 'http://127.0.0.1:9', '--token', 'x'];

  it('run and watch fail with exit 3 naming the daemon they could not reach', async () => {
    for (const args of [['run', 'boot-smoke', '--tags', 'all'], ['watch']]) {
      const result = await runCli([...args, ...nowhere], { timeoutMs: 20_000 });
      expect(result.code, `${args[0]}: ${result.stderr}`).to.equal(3);
      expect(result.stderr).to.match(/cannot reach the daemon at http:\/\/127\.0\.0\.1:9/);
    }
  });

  it('run checks its own flags before looking for a daemon (exit 2)', async () => {
    const result = await runCli(['run', 'boot-smoke', '--board', 'b', '--sample', 'abc'], { env: { SPHERE_RIG_URL: '', SPHERE_RIG_HOME: '/nonexistent-sphere-rig' }, timeoutMs: 20_000 });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain('--sample must be an integer');
  });

  it('watch refuses a --since that is not a sequence number (exit 2)', async () => {
    const result = await runCli(['watch', '--since', 'abc', ...nowhere], { timeoutMs: 20_000 });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/--since must be an integer/);
  });

  it('refuses a daemon URL that is not http:// on loopback before sending anything, naming where it came from', async () => {
    // A flag is the user's usage error (2); the environment and the state folder are the setup's (3).
    const remote = await runCli(['watch', '--daemon', 'http://192.168.35.2:8480', '--token', 'x'], { timeoutMs: 20_000 });
    expect(remote.code).to.equal(2);
    expect(remote.stderr).to.contain('--daemon: 192.168.35.2 is not a loopback address');
    const named = await runCli(['watch', '--token', 'x'], { env: { SPHERE_RIG_URL: 'http://localhost:8480' }, timeoutMs: 20_000 });
    expect(named.code).to.equal(3);
    expect(named.stderr).to.contain("SPHERE_RIG_URL: 'localhost' is a host name, not a loopback address: give 127.0.0.1");
  });

  it('checks --verdict, --status, --kind, --limit, --ttl, --hold-on-failure and --wait-ready itself, naming the choices (exit 2, no daemon needed)', async function () {
    this.timeout(180_000);
    const cases: Array<[string[], string]> = [
      [['runs', '--verdict', 'bad'], '--verdict must be one of passed, test-failed, device-fault, infra-error, timeout, cancelled, not-applicable; got "bad"'],
      [['runs', '--status', 'done'], '--status must be one of queued, running, finished; got "done"'],
      [['runs', '--kind', 'check'], '--kind must be one of scenario, health-check; got "check"'],
      [['runs', '--limit', '0'], '--limit must be an integer 1..1000'],
      [['lease', 'emu-1', '--ttl', '3x'], '--ttl must be a duration such as 90s, 30m or 2h'],
      [['run', 'boot-smoke', '--board', 'emu-1', '--hold-on-failure', '0'], '--hold-on-failure must be an integer 1..1440'],
      [['boards', '--wait-ready', 'soon'], '--wait-ready must be an integer 0..86400'],
      [['boards', 'power', 'emu-1', 'up'], 'power state must be one of on, off; got "up"'],
    ];
    const results = await mapLimited(cases, 3, ([args]) => runCli([...args, ...nowhere], { timeoutMs: 60_000 }));
    cases.forEach(([args, says], i) => {
      expect(results[i]!.code, `${args.join(' ')}: ${results[i]!.stderr}`).to.equal(2);
      expect(results[i]!.stderr, args.join(' ')).to.contain(says);
    });
  });

  it('a missing token is the caller\'s mistake (exit 2), found before any request', async () => {
    const state = mkdtempSync(join(tmpdir(), 'sphere-rig-no-token-'));
    try {
      const result = await runCli(['boards', '--daemon', 'http://127.0.0.1:9', '--state', state], { env: { SPHERE_RIG_TOKEN: '' }, timeoutMs: 20_000 });
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.equal(`sphere-rig: no API token: give --token or SPHERE_RIG_TOKEN (no ${join(state, 'admin.token')})\n`);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('--wait-ready gives up after its time with exit 3 when no daemon gets ready', async () => {
    const started = Date.now();
    const result = await runCli(['runs', '--wait-ready', '1', ...nowhere], { timeoutMs: 30_000 });
    expect(result.code, result.stderr).to.equal(3);
    expect(result.stderr).to.contain('daemon not ready after 1 s: not listening at http://127.0.0.1:9');
    expect(Date.now() - started).to.be.lessThan(25_000);
  });

  it('--help explains every client command; run --help lists the exit codes 0..8', async function () {
    this.timeout(180_000);
    const run = await runCli(['run', '--help']);
    expect(run.code).to.equal(0);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8]) expect(run.stdout).to.match(new RegExp(`^ +${code} +\\S`, 'm'));
    expect(run.stdout).to.contain('--hold-on-failure').and.contain('--detach').and.contain('--wait-ready').and.contain('Ctrl-C');
    const commands = [['boards'], ['boards', 'health'], ['boards', 'maintenance'], ['boards', 'retire'], ['boards', 'power'], ['runs'], ['watch'], ['lease'], ['release'], ['cancel']];
    const helps = await mapLimited(commands, 3, (args) => runCli([...args, '--help'], { timeoutMs: 60_000 }));
    for (const help of helps) {
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(/^Usage: sphere-rig /).and.contain('--wait-ready');
    }
    expect(helps[0]!.stdout).to.contain('health [options] <board>').and.contain('maintenance [options] <board> <mode>').and.contain('discover');
  });

  it('names a daemon.json that is not what `sphere-rig up` writes, and says when the last daemon stopped', async () => {
    const state = mkdtempSync(join(tmpdir(), 'sphere-rig-daemon-file-'));
    const watch = () => runCli(['watch', '--state', state, '--token', 'x'], { env: { SPHERE_RIG_URL: '' }, timeoutMs: 20_000 });
    try {
      writeFileSync(join(state, 'daemon.json'), '{"url": ');
      const broken = await watch();
      expect(broken.code).to.equal(3);
      expect(broken.stderr).to.contain(`${join(state, 'daemon.json')}: not the JSON \`sphere-rig up\` writes`);
      // What a daemon leaves when it stops cleanly.
      writeFileSync(join(state, 'daemon.json'), '{"url":null,"stoppedAt":"2026-11-21T20:00:00.000Z"}\n');
      const stopped = await watch();
      expect(stopped.code).to.equal(3);
      expect(stopped.stderr).to.contain('no daemon: the last one stopped at 2026-11-21T20:00:00.000Z; start one with `sphere-rig up`');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
