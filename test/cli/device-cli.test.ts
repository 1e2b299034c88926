import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestBoard } from '../helpers/rest-board.js';
import { runCli } from '../helpers/run-cli.js';

const APP_ID = '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';

describe('sphere-rig device (the device REST API from the command line)', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let dir: string;
  let connection: string[];
  let developerCapability: string;

  before(async () => {
    rest = await RestBoard.start();
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-device-cli-'));
    connection = ['--board', rest.surfaces.restUrl, '--ca', rest.surfaces.restCa];
    developerCapability = join(dir, 'developer.cap');
    writeFileSync(developerCapability, rest.capability([11]));
  });

  after(async () => {
    await rest?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const device = (...args: string[]) => runCli(['device', ...args]);

  it('explains itself with --help', async () => {
    const [group, sideload, start] = await Promise.all([device('--help'), device('sideload', '--help'), device('app', 'start', '--help')]);
    expect(group.code).to.equal(0);
    for (const sub of ['status', 'security-state', 'images', 'capabilities', 'sideload', 'app', 'restart', 'telemetry']) expect(group.stdout).to.include(sub);
    expect(sideload.code).to.equal(0);
    expect(sideload.stdout).to.include('--capability').and.include('--board').and.include('7340047');
    expect(start.stdout).to.include('<componentId>');
  });

  it('status --json: uptime, OS version and the REST API version', async () => {
    const result = await device('status', ...connection, '--json');
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.include({ ok: true, apiVersion: '4.5.0', osVersion: '22.11' });
  });

  it('security-state and capabilities, as text', async () => {
    const [security, capabilities] = await Promise.all([device('security-state', ...connection), device('capabilities', ...connection)]);
    expect(security.code, security.stderr).to.equal(0);
    expect(security.stdout).to.include(`device ID ${rest.deviceId}`).and.include('security state SECURE');
    expect(capabilities.stdout).to.equal('no capabilities installed\n');
  });

  it('exits 1 with the device\'s error when it refuses (images without a capability)', async () => {
    const [result, json] = await Promise.all([device('images', ...connection), device('images', ...connection, '--json')]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/test-failed: Permission denied.*error 13, HTTP 403 on GET \/images/);
    expect(JSON.parse(json.stdout).error).to.include({ code: 'device-error-13', failureClass: 'test-failed' });
  });

  it('sideloads an app with progress on stderr, then starts, stops and shows it', async () => {
    const file = join(dir, 'app.imagepackage');
    writeFileSync(file, rest.keys.app({ name: 'CLI app', componentId: APP_ID, development: true, executableBytes: 200 * 1024 }, 'development-app'));
    const since = rest.board.console.mark();
    const result = await device('sideload', file, ...connection, '--capability', developerCapability);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/app\.imagepackage: installed \(\d+ bytes\)/);
    expect(result.stderr).to.match(/^sideload: 0% \(0 of \d+ bytes\)$/m).and.match(/^sideload: 100% /m);
    await rest.board.console.expect(`[APP] ${APP_ID} started`, { timeoutMs: 5_000, since });
    const cap = ['--capability', developerCapability];
    expect((await device('app', 'status', APP_ID, ...connection, ...cap)).stdout).to.equal(`${APP_ID}: running\n`);
    expect((await device('app', 'stop', APP_ID, ...connection, ...cap)).stdout).to.equal(`${APP_ID}: stopped\n`);
    const started = await device('app', 'start', APP_ID, ...connection, ...cap, '--json');
    expect(JSON.parse(started.stdout)).to.deep.equal({ ok: true, componentId: APP_ID, state: 'running' });
    const images = await device('images', ...connection, ...cap);
    expect(images.stdout).to.include(APP_ID).and.include('CLI app');
  });

  it('reads the error report (raw or --json) and clears it', async () => {
    const cap = ['--capability', developerCapability];
    const raw = await device('telemetry', ...connection, ...cap);
    expect(raw.code, raw.stderr).to.equal(0);
    expect(JSON.parse(raw.stdout)).to.include({ format: 'sphere-rig/error-report', deviceId: rest.deviceId });
    const cleared = await device('telemetry', ...connection, ...cap, '--json', '--clear');
    expect(JSON.parse(cleared.stdout)).to.deep.include({ ok: true, cleared: true });
    const after = await device('telemetry', ...connection, ...cap, '--json');
    expect(JSON.parse(after.stdout).report.events).to.deep.equal([]);
  });

  it('restarts the board and waits until it answers again', async () => {
    const since = rest.board.console.mark();
    const result = await device('restart', ...connection, '--capability', developerCapability, '--wait');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('restarted; the board is up\n');
    const restarting = await rest.board.console.expect('[OS] restarting', { timeoutMs: 5_000, since });
    await rest.board.console.expect('[OS] services up', { timeoutMs: 5_000, since: restarting.seq });
    expect((await device('status', ...connection)).code).to.equal(0);
  });

  it('exit codes: 2 for bad usage, 3 for a board that is unreachable, elsewhere, or not the one the CA vouches for', async () => {
    const [usage, unreachable, elsewhere, realCa] = await Promise.all([
      device('app', 'start', 'not-a-guid', ...connection),
      device('status', '--board', 'https://127.0.0.1:1', '--ca', rest.surfaces.restCa),
      device('status', '--board', 'https://10.20.30.40', '--ca', rest.surfaces.restCa),
      // The default CA is Microsoft's: an emulated board is not one it vouches for.
      device('status', '--board', rest.surfaces.restUrl, '--json'),
    ]);
    expect(usage.code).to.equal(2);
    expect(unreachable.code).to.equal(3);
    expect(elsewhere.code).to.equal(3);
    expect(elsewhere.stderr).to.include('refusing');
    expect(realCa.code).to.equal(3);
    expect(JSON.parse(realCa.stdout).error.code).to.equal('device-identity-rejected');
  });
});
