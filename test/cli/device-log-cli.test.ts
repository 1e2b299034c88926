import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLogMessage } from '../../src/firmware/device-log/device-log-entry.js';
import { DeviceLogRing } from '../../src/firmware/device-log/device-log-ring.js';
import { logMessageByName } from '../../src/firmware/device-log/log-manifests.js';
import { RestBoard } from '../helpers/rest-board.js';
import { runCli } from '../helpers/run-cli.js';

describe('sphere-rig device log (GET /log, decoded)', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let dir: string;
  let connection: string[];

  before(async () => {
    rest = await RestBoard.start();
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-device-log-cli-'));
    const capability = join(dir, 'field.cap');
    writeFileSync(capability, rest.capability([13]));
    connection = ['--board', rest.surfaces.restUrl, '--ca', rest.surfaces.restCa, '--capability', capability];
  });

  after(async () => {
    await rest?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const device = (...args: string[]) => runCli(['device', ...args]);

  it('explains itself with --help', async () => {
    const [group, log] = await Promise.all([device('--help'), device('log', '--help')]);
    expect(group.stdout).to.include('log');
    expect(log.code).to.equal(0);
    expect(log.stdout).to.include('--in').and.include('--out').and.include('Exit codes').and.include('appman_init(1)');
  });

  it("prints the board's log as Microsoft's parser does, saves the raw bytes with --out", async () => {
    const out = join(dir, 'AzureSphere_DeviceLog_001.bin');
    const result = await device('log', ...connection, '--out', out);
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^\[ {4}\d\.\d{6}\] Info appman_init\(1\): Appman started and log server ready $/);
    expect(result.stdout).to.match(/\] Info gatewayd\(169\): OS build information \(osversion: 22\.11\)\n/);
    expect(readFileSync(out).length).to.equal(16 * 4096);
  });

  it('--json: one object with every entry, its module, message and parameters', async () => {
    const result = await device('log', ...connection, '--json');
    expect(result.code, result.stderr).to.equal(0);
    const body = JSON.parse(result.stdout) as { ok: boolean; bankCount: number; entries: Array<{ categoryName: string; messageName: string; params: Array<{ name: string; value: unknown }> }> };
    expect(body).to.include({ ok: true, bankCount: 16 });
    const version = body.entries.find((e) => e.categoryName === 'gatewayd' && e.messageName === 'OsVersion');
    expect(version?.params).to.deep.equal([{ name: 'osversion', type: 'string', value: '22.11', text: 'osversion: 22.11' }]);
  });

  it('without a capability the board refuses (exit 1, its error code named)', async () => {
    const result = await device('log', '--board', rest.surfaces.restUrl, '--ca', rest.surfaces.restCa);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/\b13\b/);
  });

  it('--in decodes a saved log without a board; a malformed one is refused (exit 2) naming the byte offset', async () => {
    const ring = DeviceLogRing.erased(1);
    ring.append(encodeLogMessage(logMessageByName('gatewayd', 'CommonError'), [7340047], { priority: 2, timestampMs: 2251 }));
    const good = join(dir, 'saved.bin');
    writeFileSync(good, ring.bytes);
    const decoded = await device('log', '--in', good);
    expect(decoded.code, decoded.stderr).to.equal(0);
    expect(decoded.stdout).to.equal(
      "[    2.251000] Error gatewayd(16): CommonError (error: {'code': 7340047, 'name': 'ImageUpdateError::VerificationFailed', 'message': 'Verification of the image failed.', '_is_untranslated': False})\n",
    );
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, ring.bytes.subarray(0, 4000));
    const refused = await device('log', '--in', bad);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.include('bad.bin: byte offset 0:');
  });
});
