import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECOVERY_1BL_FILE, RECOVERY_MANIFEST_FILE, RECOVERY_RUNTIME_FILE } from '../../src/image/recovery-set-layout.js';
import { RecoveryErrorCode } from '../../src/link/recovery-error-codes.js';
import { CLI, disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../helpers/emulator-process.js';
import { runCli } from '../helpers/run-cli.js';

/** `sphere-rig recovery build|inspect` and `sphere-rig recover`, run as a user (and CI) would. */
describe('sphere-rig recovery and recover commands', function () {
  this.timeout(60_000);
  let dir: string;
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let keys: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-recovery-cli-'));
    emulator = await EmulatorProcess.start({ boards: 1 });
    keys = join(emulator.stateDir, 'keys');
    board = await emulator.connect(0);
    await powerOnAndWaitForServices(board);
  });

  after(async () => {
    await disconnect(board);
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const build = (out: string, extra: string[] = []) => runCli(['recovery', 'build', '--os-version', '23.01', '--keys', keys, '-o', out, ...extra]);

  it('build writes the 1BL (16,384 bytes), the runtime, the manifest and one <imageId>.bin per image; inspect finds it consistent', async () => {
    const out = join(dir, 'set');
    const built = await build(out, ['--json']);
    expect(built.code, built.stderr).to.equal(0);
    const summary = JSON.parse(built.stdout) as { files: Array<{ name: string; size: number }> };
    expect(summary.files.map((f) => f.name).slice(0, 3)).to.deep.equal([RECOVERY_1BL_FILE, RECOVERY_RUNTIME_FILE, RECOVERY_MANIFEST_FILE]);
    expect(summary.files.filter((f) => /^[0-9a-f]{32}\.bin$/.test(f.name))).to.have.length(10);
    expect(statSync(join(out, RECOVERY_1BL_FILE)).size).to.equal(16_384);
    expect(readdirSync(out)).to.have.length(13);

    const inspected = await runCli(['recovery', 'inspect', out, '--keys', keys, '--json']);
    expect(inspected.code, inspected.stderr).to.equal(0);
    const report = JSON.parse(inspected.stdout);
    expect(report.consistent).to.equal(true);
    expect(report.signers).to.have.length(1);
    expect(report.manifest.imageCount).to.equal(10);
    const byName = new Map((report.files as Array<{ name: string; role: string; imageType: number; size: number; signer: { verified: boolean } }>).map((f) => [f.name, f]));
    expect(byName.get(RECOVERY_1BL_FILE)).to.deep.include({ role: 'recovery-1bl', imageType: 1, size: 16_384 });
    expect(byName.get(RECOVERY_RUNTIME_FILE)).to.deep.include({ role: 'recovery-runtime', imageType: 2 });
    expect(byName.get(RECOVERY_MANIFEST_FILE)).to.deep.include({ role: 'recovery-manifest', imageType: 26 });
    expect([...byName.values()].every((f) => f.signer.verified)).to.equal(true);

    const text = await runCli(['recovery', 'inspect', out]);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(/: consistent\n/);
    expect(text.stdout).to.match(/16384 {2}recovery-1bl-rtm\.bin +recovery-1bl +1 OneBL/);
  });

  it('inspect finds a set inconsistent with its manifest, or signed by keys it was not told to trust (exit 1)', async () => {
    const out = join(dir, 'broken');
    expect((await build(out)).code).to.equal(0);
    const images = readdirSync(out).filter((n) => /^[0-9a-f]{32}\.bin$/.test(n)).sort();
    copyFileSync(join(out, images[0]!), join(out, images[1]!));
    unlinkSync(join(out, images[2]!));
    const result = await runCli(['recovery', 'inspect', out, '--json']);
    expect(result.code).to.equal(1);
    const report = JSON.parse(result.stdout);
    expect(report.consistent).to.equal(false);
    expect(report.problems.join('\n')).to.include(`${images[2]} (`);
    const swapped = (report.files as Array<{ name: string; problems: string[] }>).find((f) => f.name === images[1])!;
    expect(swapped.problems.join('\n')).to.match(/image ID .*, the manifest says/);

    const otherKeys = join(dir, 'other-keys');
    expect((await runCli(['keys', 'generate', '--out', otherKeys])).code).to.equal(0);
    const good = join(dir, 'set');
    const untrusted = await runCli(['recovery', 'inspect', good, '--keys', otherKeys]);
    expect(untrusted.code).to.equal(1);
    expect(untrusted.stdout).to.include('NOT verified');
  });

  it('build refuses bad flags with usage errors (exit 2)', async () => {
    expect((await runCli(['recovery', 'build', '--keys', keys, '-o', join(dir, 'x')])).code).to.equal(2);
    const tooBig = await build(join(dir, 'x'), ['--size-scale', '1000']);
    expect(tooBig.code).to.equal(2);
    expect(tooBig.stderr).to.match(/--size-scale/);
  });

  it('recover --help explains the sequence, the pins and the exit codes', async () => {
    const help = await runCli(['recover', '--help']);
    expect(help.code).to.equal(0);
    for (const text of ['--port', '--images', '--capability', '--control', '--usb-serial', 'BD6', '--low-speed', '--json', 'RECOVERY', 'XMODEM', '3,000,000', 'Exit codes']) {
      expect(help.stdout).to.include(text);
    }
  });

  it('recover without pins for the board is not applicable (exit 7); a port that does not open is infra (exit 3)', async () => {
    const noPins = await runCli(['recover', '--port', board.surfaces.recoveryUart, '--images', join(dir, 'set')]);
    expect(noPins.code).to.equal(7);
    expect(noPins.stderr).to.match(/--usb-serial SERIAL for a real board or --control/);
    const both = await runCli(['recover', '--images', join(dir, 'set'), '--usb-serial', 'X', '--control', '1234']);
    expect(both.code).to.equal(2);
    expect(both.stderr).to.match(/not both/);
    // --control is a loopback HOST:PORT, [V6]:PORT or PORT: anything else is a usage error before a pin moves
    for (const [control, says] of [
      ['10.0.0.1:5', '--control: 10.0.0.1 is not a loopback address'],
      ['localhost:5', "--control: 'localhost' is a host name, not a loopback address: give 127.0.0.1"],
      ['127.0.0.1:0', '--control: port 0 is not in 1..65535'],
      ['127.0.0.1:65536', '--control: port 65536 is not in 1..65535'],
      ['127.0.0.1:', '--control: expected HOST:PORT or PORT with a loopback HOST'],
    ]) {
      const refused = await runCli(['recover', '--port', board.surfaces.recoveryUart, '--images', join(dir, 'set'), '--control', control!]);
      expect(refused.code, control).to.equal(2);
      expect(refused.stderr, control).to.include(says);
    }
    const noPort = await runCli(['recover', '--port', join(dir, 'no-tty'), '--images', join(dir, 'set'), '--control', `127.0.0.1:${board.surfaces.controlPort}`, '--json']);
    expect(noPort.code).to.equal(3);
    const body = JSON.parse(noPort.stdout.trim().split('\n').at(-1)!);
    expect(body).to.deep.include({ ok: false });
    expect(body.error).to.deep.include({ failureClass: 'infra-error', code: 'recovery-port-open-failed' });
    expect(body.error.details.step).to.equal('open-port');
  });

  it('recover --usb-serial on a host without a USB bus says so in one line and exits 8', async function () {
    if (existsSync('/dev/bus/usb')) this.skip(); // a host with USB has its own answer (the board is not there: exit 3)
    const result = await runCli(['recover', '--usb-serial', '9A0B1C2D', '--images', join(dir, 'set')]);
    expect(result.code, result.stderr).to.equal(8);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^sphere-rig: no USB access: /);
    const json = await runCli(['recover', '--usb-serial', '9A0B1C2D', '--images', join(dir, 'set'), '--json']);
    expect(json.code).to.equal(8);
    expect(JSON.parse(json.stdout.trim())).to.deep.include({ ok: false });
  });

  it('recover --json recovers the board (exit 0); a set the device refuses exits 4 with its RecoveryError', async () => {
    const control = `127.0.0.1:${board.surfaces.controlPort}`;
    const since = board.console.mark();
    const ok = await runCli(['recover', '--port', board.surfaces.recoveryUart, '--images', join(dir, 'set'), '--control', control, '--json']);
    expect(ok.code, ok.stderr).to.equal(0);
    const lines = ok.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const last = lines.at(-1);
    expect(last.ok).to.equal(true);
    expect(last.result.deviceId).to.equal(board.surfaces.deviceId);
    expect(lines.filter((l) => l.event === 'progress' && l.kind === 'step').map((l) => l.stage)).to.include.members(['rom-banner', 'images', 'complete']);
    await board.console.expect('[OS] Azure Sphere OS 23.01', { timeoutMs: 10_000, since });

    const other = join(dir, 'other-keys');
    const foreignSet = join(dir, 'foreign');
    expect((await runCli(['recovery', 'build', '--os-version', '23.09', '--keys', other, '-o', foreignSet])).code).to.equal(0);
    const refused = await runCli(['recover', '--port', board.surfaces.recoveryUart, '--images', foreignSet, '--control', control, '--json']);
    expect(refused.code).to.equal(4);
    const error = JSON.parse(refused.stdout.trim().split('\n').at(-1)!).error;
    expect(error.failureClass).to.equal('device-fault');
    expect(error.details.step).to.equal('start-1bl');
    expect(error.details.deviceError.code).to.equal(RecoveryErrorCode.UntrustedCertificate);
    expect(error.details.deviceError.name).to.equal('RecoveryError::UntrustedCertificate');
    expect(refused.stderr).to.match(/device-fault: recovery failed at step 'start-1bl': the device refused: .*\(RecoveryError::UntrustedCertificate, code 40894468: The certificate used to sign the image or manifest is not in the trusted list\)/);
  });

  it('recover stops on Ctrl-C (SIGINT) with exit 6, telling the device; the board recovers afterwards', async () => {
    const control = `127.0.0.1:${board.surfaces.controlPort}`;
    const child = spawn(process.execPath, [CLI, 'recover', '--port', board.surfaces.recoveryUart, '--images', join(dir, 'set'), '--control', control, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const out: string[] = [];
    let interrupted = false;
    for await (const line of createInterface({ input: child.stdout! })) {
      out.push(line);
      const event = JSON.parse(line) as { event?: string; stage?: string };
      if (!interrupted && event.event === 'progress' && event.stage === 'images') {
        interrupted = true;
        child.kill('SIGINT');
      }
    }
    expect(await exited).to.equal(6);
    const error = JSON.parse(out.at(-1)!).error;
    expect(error.failureClass).to.equal('cancelled');
    expect(error.details.step).to.equal('images');

    const since = board.console.mark();
    const again = await runCli(['recover', '--port', board.surfaces.recoveryUart, '--images', join(dir, 'set'), '--control', control]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/recovered device [0-9a-f]{16}/);
    await board.console.expect('[OS] Azure Sphere OS 23.01', { timeoutMs: 10_000, since });
  });
});
