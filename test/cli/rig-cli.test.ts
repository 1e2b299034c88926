import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
