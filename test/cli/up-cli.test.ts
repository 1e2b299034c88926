import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.js';

/**
 * `sphere-rig up` serves on a literal loopback address only: a refused address
 * ends it at once with one clear line, before anything is started. The state
 * folder given lies under /dev/null, so a daemon that got past the check would
 * fail on its first mkdir with another message instead of serving anywhere.
 */
describe('sphere-rig up: the listen address', () => {
  const unusableState = join('/dev/null', 'state');
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-up-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const rigFile = (listen: string): string => {
    const path = join(dir, `rig-${listen.replace(/\W/g, '_')}.yaml`);
    writeFileSync(path, `name: listen-check\ndaemon:\n  listen: '${listen}'\nboards:\n  - { id: bench-1, driver: mt3620, usbSerial: AS0000000001 }\n`);
    return path;
  };

  it('refuses --listen localhost:8480 (usage error, exit 2), suggesting 127.0.0.1', async () => {
    const result = await runCli(['up', '--rig', rigFile('127.0.0.1:0'), '--state', unusableState, '--listen', 'localhost:8480']);
    expect(result.code, result.stderr).to.equal(2);
    expect(result.stderr).to.include("sphere-rig: --listen: 'localhost' is a host name, not a loopback address: give 127.0.0.1 (or [::1])");
    expect(result.stdout).to.not.include('daemon up');
  });

  it('refuses --listen 0.0.0.0:8480 and [::]:8480 as every interface (exit 2)', async () => {
    for (const [listen, host] of [['0.0.0.0:8480', '0.0.0.0'], ['[::]:8480', '::']]) {
      const result = await runCli(['up', '--rig', rigFile('127.0.0.1:0'), '--state', unusableState, '--listen', listen!]);
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.include(`sphere-rig: --listen: ${host} is not a loopback address (it means every interface); sphere-rig serves and connects on literal loopback addresses only`);
    }
  });

  it("refuses a rig file whose daemon.listen is localhost:8480 or 0.0.0.0:8480 (exit 3), naming the file and the field", async () => {
    for (const [listen, says] of [
      ['localhost:8480', "'localhost' is a host name, not a loopback address: give 127.0.0.1"],
      ['0.0.0.0:8480', '0.0.0.0 is not a loopback address (it means every interface)'],
    ]) {
      const rig = rigFile(listen!);
      const result = await runCli(['up', '--rig', rig, '--state', unusableState]);
      expect(result.code, result.stderr).to.equal(3);
      expect(result.stderr).to.include(`sphere-rig: infra-error: ${rig}: at $.daemon.listen: ${says}`);
    }
  });

  it('--help says the daemon serves on loopback only and how to reach it from a container', async () => {
    const help = await runCli(['up', '--help']);
    expect(help.code).to.equal(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const phrase of ['127.0.0.1:PORT or [::1]:PORT', 'literal loopback address only', 'localhost included, are refused', '0.0.0.0 and :: (every interface)', '--network host']) {
      expect(text).to.include(phrase);
    }
  });
});
