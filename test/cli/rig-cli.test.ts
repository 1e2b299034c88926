import { expect } from 'chai';
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

  it('watch refuses a --since that is not a sequence number (exit 2)', async () => {
    const result = await runCli(['watch', '--since', 'abc', ...nowhere], { timeoutMs: 20_000 });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/--since must be an integer/);
  });
});
