import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BOOT_ORDER, SYSTEM_COMPONENT_IDS } from '../../src/firmware/os-image-set.js';
import { CLI, disconnect, EmulatorProcess, type ConnectedBoard } from '../helpers/emulator-process.js';
import { runCli } from '../helpers/run-cli.js';

describe('sphere-rig daa commands', function () {
  this.timeout(120_000);
  let dir: string;
  let state: string;
  let serve: ChildProcess | undefined;
  let url: string;
  let emulatorState: string | undefined;
  let emulator: EmulatorProcess | undefined;
  let board: ConnectedBoard | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-cli-'));
    state = join(dir, 'daa');
  });
  after(async () => {
    await disconnect(board);
    await emulator?.stop();
    if (serve && serve.exitCode === null) {
      const exited = once(serve, 'exit');
      serve.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    if (emulatorState) rmSync(emulatorState, { recursive: true, force: true });
  });

  const cli = async (args: string[], expectCode = 0) => {
    const result = await runCli(['daa', ...args]);
    expect(result.code, `sphere-rig daa ${args.join(' ')}\n${result.stderr}${result.stdout}`).to.equal(expectCode);
    return result;
  };

  it('manages tenants, claims and reference values on a state folder directly, with schema errors that name the file and path', async () => {
    const created = JSON.parse((await cli(['tenant', 'create', 'acme', '--state', state, '--json'])).stdout);
    expect(created).to.include({ name: 'acme', developmentMode: 'allow' });
    expect(created.activeCa.thumbprint).to.match(/^[0-9a-f]{40}$/);
    expect((await cli(['tenant', 'list', '--state', state])).stdout).to.include('acme');

    const bad = join(dir, 'bad-reference.yaml');
    writeFileSync(bad, 'components:\n  - componentId: 5e8c0c1e-0009-4a61-9d4b-000000000009\n    minimumSecurityVersion: -1\n    colour: blue\n');
    const refused = await cli(['reference', 'set', '--tenant', 'acme', '--state', state, bad], 3);
    expect(refused.stderr).to.include(bad);
    expect(refused.stderr).to.include('components[0].minimumSecurityVersion: must be >= 0');
    expect(refused.stderr).to.include('components[0].colour: is not a known field');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'components: [\n');
    expect((await cli(['reference', 'set', '--tenant', 'acme', '--state', state, broken], 3)).stderr).to.include(`${broken}: line`);

    const reference = join(dir, 'reference.json');
    writeFileSync(reference, JSON.stringify({ components: BOOT_ORDER.map((t) => ({ componentId: SYSTEM_COMPONENT_IDS[t], required: true, minimumSecurityVersion: 1 })) }));
    expect((await cli(['reference', 'set', '--tenant', 'acme', '--state', state, reference])).stdout).to.include('10 component(s)');
    const list = JSON.parse((await cli(['ca', 'list', '--tenant', 'acme', '--state', state, '--json'])).stdout);
    expect(list).to.have.length(1);
    expect(list[0]).to.include({ status: 'Active', active: true, revoked: false });
  });

  it('serves the same state over HTTP; attest --board makes an emulated board attest; verify checks its certificate as a relying party', async () => {
    serve = spawn(process.execPath, [CLI, 'daa', 'serve', '--state', state, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = await once(createInterface({ input: serve.stdout! }), 'line');
    url = JSON.parse(String(line)).url;
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Managing it takes a token, as the daemon's /daa does: the local admin token it keeps in its state folder.
    const untokened = await runCli(['daa', 'tenant', 'list', '--service', url], { env: { SPHERE_RIG_TOKEN: '' } });
    expect(untokened.code).to.equal(3);
    expect(untokened.stderr).to.include('an API token is required (Authorization: Bearer <token>): give --token or SPHERE_RIG_TOKEN');
    const token = readFileSync(join(state, 'admin.token'), 'utf8').trim();
    expect((await cli(['tenant', 'list', '--service', url, '--token', token])).stdout).to.include('acme');

    emulatorState = await EmulatorProcess.provision({ boards: 1 });
    emulator = await EmulatorProcess.start({ stateDir: emulatorState, daaUrl: url });
    board = await emulator.connect(0);
    const deviceId = board.surfaces.deviceId;
    await cli(['claim', deviceId, '--tenant', 'acme', '--service', url, '--token', token]);
    await board.control.request('power', { on: true });
    await board.console.expect(/^\[DAA\] attestation ok/, { timeoutMs: 15_000 });

    const attested = await cli(['attest', '--board', `127.0.0.1:${board.surfaces.controlPort}`, '--json']);
    const outcome = JSON.parse(attested.stdout);
    expect(outcome.verdict).to.equal('affirming');
    expect((await cli(['attest', '--board', `127.0.0.1:${board.surfaces.controlPort}`])).stdout).to.match(/^attestation affirming: certificate [0-9a-f]+/);
    const cert = join(dir, 'board.pem');
    const chain = join(dir, 'chain.pem');
    writeFileSync(cert, outcome.deviceAuth.certificatePem);
    writeFileSync(chain, outcome.deviceAuth.chainPem);

    const valid = JSON.parse((await cli(['verify', cert, '--chain', chain, '--device', deviceId, '--service', url, '--json'])).stdout);
    expect(valid).to.include({ valid: true, deviceId });
    const wrongBoard = await cli(['verify', cert, '--device', 'ab'.repeat(64), '--service', url], 1);
    expect(wrongBoard.stdout).to.include('device-mismatch');

    await cli(['revoke', deviceId, '--reason', 'test', '--service', url, '--token', token]);
    const revoked = await cli(['verify', cert, '--service', url], 1);
    expect(revoked.stdout).to.match(/NOT valid/);
    expect(revoked.stdout).to.include('certificate-revoked');
    const refused = await cli(['attest', '--board', `127.0.0.1:${board.surfaces.controlPort}`], 1);
    expect(refused.stdout).to.include('device-revoked');
    const audit = JSON.parse((await cli(['audit', '--device', deviceId, '--service', url, '--token', token, '--json'])).stdout);
    expect(audit[0].verdict).to.equal('refused');
    expect(audit.filter((e: { verdict: string }) => e.verdict === 'affirming').length).to.be.at.least(2);
  });

  it('refuses non-loopback addresses', async () => {
    expect((await runCli(['daa', 'serve', '--state', state, '--listen', '0.0.0.0:7431'])).stderr).to.include('not a loopback address');
    const remote = await runCli(['daa', 'tenant', 'list', '--service', 'http://10.1.2.3:80']);
    expect(remote.code).to.equal(2);
    expect(remote.stderr).to.include('--service: 10.1.2.3 is not a loopback address');
    const fromEnv = await runCli(['daa', 'tenant', 'list'], { env: { SPHERE_RIG_DAA_URL: 'http://localhost:7430' } });
    expect(fromEnv.code).to.equal(3);
    expect(fromEnv.stderr).to.include("SPHERE_RIG_DAA_URL: 'localhost' is a host name");
  });

  it('refuses --token without a service to send it to', async () => {
    const result = await runCli(['daa', 'tenant', 'list', '--state', state, '--token', 'x'], { env: { SPHERE_RIG_DAA_URL: '' } });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('--token goes with --service');
  });
});
