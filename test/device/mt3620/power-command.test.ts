import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildProcessRunner } from '../../../src/device/mt3620/command-runner.js';
import { PowerCommand, powerCommandLine } from '../../../src/device/mt3620/power-command.js';
import { RigError } from '../../../src/util/failure.js';
import { FakeCommandRunner } from './helpers/fake-command-runner.js';

/** The rig's power.command: {action} substituted, run with a timeout, its failure typed. */
describe('power switching of real boards through the power command', () => {
  it('substitutes {action} with on, off or cycle and runs the line through /bin/sh', async () => {
    expect(powerCommandLine('uhubctl -l 1-1 -p 2 -a {action}', 'cycle')).to.equal('uhubctl -l 1-1 -p 2 -a cycle');
    const runner = new FakeCommandRunner();
    const power = new PowerCommand('uhubctl -l 1-1 -p 2 -a {action}', runner);
    await power.switch('off');
    await power.switch('on');
    expect(runner.log).to.deep.equal(['/bin/sh -c uhubctl -l 1-1 -p 2 -a off', '/bin/sh -c uhubctl -l 1-1 -p 2 -a on']);
  });

  it('refuses a command without {action}', () => {
    expect(() => new PowerCommand('relay-toggle 3', new FakeCommandRunner())).to.throw(/has no \{action\}/);
  });

  describe('really executed (a shell, nothing else)', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'sphere-rig-power-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('a command that exits 0 switched the power', async () => {
      const file = join(dir, 'relay');
      await new PowerCommand(`echo {action} > ${file}`, new ChildProcessRunner()).switch('cycle');
      expect(readFileSync(file, 'utf8')).to.equal('cycle\n');
    });

    it('a failing command is an infrastructure error quoting its output', async () => {
      const error = await new PowerCommand('echo "pdu: outlet {action} refused" >&2; exit 3', new ChildProcessRunner()).switch('on').then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(RigError);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'power-command-failed' });
      expect((error as Error).message).to.contain('exited with 3').and.contain('pdu: outlet on refused');
    });

    it('a command that hangs is killed with its children at the timeout', async () => {
      const marker = join(dir, 'late');
      const started = performance.now();
      const error = await new PowerCommand(`sleep 0.4; touch ${marker} # {action}`, new ChildProcessRunner()).switch('off', { timeoutMs: 100 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'timeout', code: 'command-timeout' });
      expect(performance.now() - started).to.be.below(1_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(existsSync(marker), 'the shell was killed before it went on').to.equal(false);
    });

    it('a cancelled command is cancelled', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const error = await new PowerCommand('sleep 5 # {action}', new ChildProcessRunner()).switch('on', { signal: controller.signal }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'cancelled' });
    });

    it('a missing program is named', async () => {
      const error = await new ChildProcessRunner().run('no-such-power-switch', [], { timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ code: 'command-not-found' });
    });
  });
});
