import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EmulatedPins } from '../../../src/device/emulated/emulated-pins.js';
import { recoverBoard, type RecoveryClientOptions, type RecoveryResult } from '../../../src/device/recovery-client.js';
import type { RecoveryProgress } from '../../../src/device/recovery-progress.js';
import { keystoreBodyFor } from '../../../src/firmware/rig-keystore.js';
import { buildRecoveryImageSet, saveRecoveryImageSet, type RecoveryImageSet } from '../../../src/firmware/recovery-image-set.js';
import { buildCapabilityImage } from '../../../src/image/capability-image.js';
import { RECOVERY_RUNTIME_FILE, recoveryImageFileName } from '../../../src/image/recovery-set-layout.js';
import { RecoveryErrorCode } from '../../../src/link/recovery-error-codes.js';
import { rawSignerFor } from '../../../src/pki/raw-signer.js';
import { findSigningRole, generateSigningRoles, loadSigningRoles, type RoleKeys } from '../../../src/pki/signing-roles.js';
import { writeFileAtomic } from '../../../src/util/atomic-file.js';
import { CLI, disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../../helpers/emulator-process.js';
import { expectRecoveryFailure } from '../../helpers/recovery-failure.js';

/**
 * Recovery as the rig does it: the emulator runs as its own program, the host
 * opens the board's recovery UART (a real pty) with serialport and drives strap
 * and reset over the control channel. Nothing reaches into the emulator.
 */
interface Info {
  deviceId: string;
  state: string;
  osVersion: string | null;
  recoveryStrap: boolean;
  capabilities: number[];
  apps: unknown[];
  flash: { operationsSinceMark: number };
}

describe('recovery through real ptys, emulator as its own program', function () {
  this.timeout(120_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let roles: RoleKeys[];
  let work: string;
  const sets = new Map<string, { set: RecoveryImageSet; dir: string }>();
  const info = async () => (await board.control.request('info', {})) as unknown as Info;

  /** A recovery set signed with the state's OS key (or another key set), written to a folder. */
  function setFor(osVersion: string, options: { signers?: RoleKeys[]; replace?: Record<string, Buffer> } = {}): { set: RecoveryImageSet; dir: string } {
    const key = `${osVersion}/${options.signers ? 'foreign' : 'own'}/${Object.keys(options.replace ?? {}).join(',')}`;
    const known = sets.get(key);
    if (known) return known;
    const set = buildRecoveryImageSet(
      { osVersion, securityVersion: 1, keystorePem: keystoreBodyFor(roles, true) },
      rawSignerFor(findSigningRole(options.signers ?? roles, 'os')),
    );
    const dir = join(work, key.replace(/[/,]/g, '_'));
    saveRecoveryImageSet(dir, set);
    for (const [name, bytes] of Object.entries(options.replace ?? {})) writeFileAtomic(join(dir, name), bytes);
    const entry = { set, dir };
    sets.set(key, entry);
    return entry;
  }

  function recover(dir: string, options: Partial<RecoveryClientOptions> = {}): Promise<RecoveryResult> {
    return recoverBoard({
      port: board.surfaces.recoveryUart,
      images: dir,
      pins: new EmulatedPins(board.control),
      timeouts: { romBannerMs: 5_000, messageMs: 10_000 },
      ...options,
    });
  }

  /** The board came up on `osVersion` after `since`, and is ready. */
  async function expectBooted(osVersion: string, since: number): Promise<void> {
    await board.console.expect(`[OS] Azure Sphere OS ${osVersion}`, { timeoutMs: 10_000, since });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    for (let tries = 0; ; tries += 1) {
      const now = await info();
      if (now.state === 'ready') {
        expect(now.osVersion).to.equal(osVersion);
        return;
      }
      if (tries > 100) throw new Error(`board is ${now.state}, not ready`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sphere-rig-recovery-'));
    emulator = await EmulatorProcess.start({ boards: 1, baselineApp: true });
    roles = await loadSigningRoles(join(emulator.stateDir, 'keys'));
    board = await emulator.connect(0);
    await powerOnAndWaitForServices(board);
  });

  after(async () => {
    await disconnect(board);
    await emulator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('recovers a board stuck in ROM (both OS slots corrupt); it boots the new set with its device ID unchanged', async () => {
    const before = await info();
    expect(before.apps).to.have.length(1);
    await board.control.request('corrupt', { slot: 'a', imageType: 1 });
    await board.control.request('corrupt', { slot: 'b', imageType: 1 });
    let since = board.console.mark();
    await board.control.request('reset', {});
    await board.console.expect('[ROM] no bootable image set; waiting for recovery', { timeoutMs: 10_000, since });
    expect((await info()).state).to.equal('rom-wait');

    const { dir, set } = setFor('23.01');
    since = board.console.mark();
    const progress: RecoveryProgress[] = [];
    const result = await recover(dir, { onProgress: (p) => progress.push(p) });
    await expectBooted('23.01', since);
    await board.console.expect('RECOVERY', { timeoutMs: 1_000, since });

    const after = await info();
    expect(after.deviceId).to.equal(before.deviceId);
    expect(result.deviceId).to.equal(before.deviceId);
    expect(after.recoveryStrap).to.equal(false);
    expect(result.romInfo).to.match(/^0000362000008A01020A0000[0-9A-F]{8}$/);
    expect(result.line).to.deep.equal({ baudRate: 3_000_000, rtsCts: true });
    expect(result.imageCount).to.equal(10);
    expect(result.totalBytes).to.equal(set.osImages.reduce((sum, i) => sum + i.bytes.length, 0));
    expect(progress.filter((p) => p.kind === 'device-progress').at(-1)).to.include({ imagesRemaining: 0, bytesRemaining: 0 });
    // A fresh boot-control record: no apps.
    expect(after.apps).to.deep.equal([]);

    // Both slots hold the new set: with slot a broken the board falls back to b, still on 23.01.
    await board.control.request('corrupt', { slot: 'a', imageType: 7 });
    since = board.console.mark();
    await board.control.request('reset', {});
    await board.console.expect('[ROM] falling back to backup slot b', { timeoutMs: 10_000, since });
    await expectBooted('23.01', since);
  });

  it('installs a capability image sent with the recovery; a recovery without one removes it (it lives in flash)', async () => {
    const { dir } = setFor('23.01');
    const capability = buildCapabilityImage({ deviceId: board.surfaces.deviceId, capabilities: [11] }, rawSignerFor(findSigningRole(roles, 'capability')));
    let since = board.console.mark();
    const result = await recover(dir, { capability });
    await expectBooted('23.01', since);
    expect(result.capabilitySent).to.equal(true);
    expect(result.events).to.include.members([2, 3]);
    expect((await info()).capabilities).to.deep.equal([11]);
    since = board.console.mark();
    await recover(dir);
    await expectBooted('23.01', since);
    expect((await info()).capabilities).to.deep.equal([]);
  });

  it('refuses a file of the wrong image type and a set signed by an untrusted key with RecoveryError; the board stays in ROM and recovers', async () => {
    const good = setFor('23.02');
    // An OS image where the recovery agent belongs: right signer, wrong component; then a manifest in its place: wrong type.
    const runtimeIsKernel = setFor('23.02', { replace: { [RECOVERY_RUNTIME_FILE]: good.set.osImages[7]!.bytes } });
    let error = await expectRecoveryFailure(recover(runtimeIsKernel.dir));
    expect(error.failureClass).to.equal('device-fault');
    expect(error.step).to.equal('runtime');
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.BadImageType);
    expect(error.deviceError?.text).to.match(/image type 7 \(NormalWorldKernel\), expected 2 \(PlutonRuntime\)/);
    expect((await info()).state).to.equal('rom-recovery');

    // A tampered image (one bit of its body flipped, its trusted signature kept): BadSignature, 40894469.
    const victim = good.set.osImages[5]!;
    const tampered = Buffer.from(victim.bytes);
    tampered[Math.floor(tampered.length / 2)] ^= 0x01;
    const tamperedDir = join(work, 'tampered');
    cpSync(good.dir, tamperedDir, { recursive: true });
    writeFileAtomic(join(tamperedDir, recoveryImageFileName(victim.imageId)), tampered);
    error = await expectRecoveryFailure(recover(tamperedDir));
    expect(error.step).to.equal('images');
    expect(error.deviceError).to.deep.include({ code: 40894469, name: 'RecoveryError::BadSignature' });
    expect((await info()).state).to.equal('rom-recovery');

    const foreign = setFor('23.02', { signers: await generateSigningRoles({ roles: ['os'] }) });
    error = await expectRecoveryFailure(recover(foreign.dir));
    expect(error.step).to.equal('start-1bl');
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.UntrustedCertificate);
    expect((await info()).state).to.equal('rom-recovery');

    const since = board.console.mark();
    await recover(good.dir);
    await expectBooted('23.02', since);
  });

  it('a host that disappears mid-image (killed) leaves a board that a second recovery fully restores', async () => {
    const { dir } = setFor('23.03', {});
    const child = spawn(
      process.execPath,
      [CLI, 'recover', '--port', board.surfaces.recoveryUart, '--images', dir, '--control', `127.0.0.1:${board.surfaces.controlPort}`, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? -1 : code)));
    let killedAt: string | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      const event = JSON.parse(line) as { event?: string; stage?: string; kind?: string; imagesRemaining?: number };
      if (event.event === 'progress' && event.stage === 'images' && event.kind === 'transfer' && event.imagesRemaining !== undefined && event.imagesRemaining < 8) {
        killedAt = `${event.imagesRemaining} images remaining`;
        child.kill('SIGKILL');
        break;
      }
    }
    expect(killedAt, 'the host got as far as the images').to.be.a('string');
    expect(await exited).to.equal(-1);

    // The flash was erased: reset without recovery, the board has nothing to boot.
    let since = board.console.mark();
    await board.control.request('strap', { recovery: false });
    await board.control.request('reset', {});
    await board.console.expect('[ROM] no bootable image set; waiting for recovery', { timeoutMs: 10_000, since });

    since = board.console.mark();
    await recover(dir);
    await expectBooted('23.03', since);
  });

  it('garbage on the recovery UART, in ROM or not, never crashes the emulator; a recovery still works after it', async () => {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path: board.surfaces.recoveryUart, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    const write = (data: Buffer) => new Promise<void>((resolve, reject) => port.write(data, (error) => (error ? reject(error) : resolve())));
    try {
      const noise = randomBytes(32 * 1024);
      // Sprinkle the bytes the protocols care about: SOH, EOT, CAN, frame delimiters.
      for (let i = 0; i < noise.length; i += 97) noise[i] = [0x01, 0x04, 0x18, 0x00][i % 4]!;
      await write(noise);
      await board.control.request('strap', { recovery: true });
      await board.control.request('reset', {});
      await write(noise);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await write(noise.subarray(0, 4096));
    } finally {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    expect(emulator.child.exitCode).to.equal(null);
    expect((await info()).state).to.equal('rom-recovery');
    const since = board.console.mark();
    await recover(setFor('23.04').dir);
    await expectBooted('23.04', since);
  });

  it('power cut at any point of a recovery is followed by a successful recovery', async function () {
    const full = process.env.SPHERE_RIG_FULL_SWEEP === '1';
    this.timeout(full ? 1_800_000 : 240_000);
    const versions = ['24.01', '24.02'];
    const dirs = versions.map((v) => setFor(v).dir);
    await board.control.request('flash-mark', {});
    let since = board.console.mark();
    await recover(dirs[0]!);
    await expectBooted(versions[0]!, since);
    const total = (await info()).flash.operationsSinceMark;
    expect(total).to.be.greaterThan(20);

    const sampled = 10;
    const points = full ? Array.from({ length: total }, (_, i) => i + 1) : Array.from({ length: sampled }, (_, k) => 1 + Math.round((k * (total - 1)) / (sampled - 1)));
    for (const [index, point] of points.entries()) {
      const target = index % 2 === 0 ? 1 : 0;
      await board.control.request('flash-mark', {});
      await board.control.request('power-cut', { beforeOperation: point });
      const controller = new AbortController();
      const cut = board.control.waitForEvent((e) => e.event === 'power-cut', { timeoutMs: 30_000 });
      cut.then(() => controller.abort(), () => undefined);
      const error = await expectRecoveryFailure(recover(dirs[target]!, { signal: controller.signal }));
      expect(error.failureClass, `cut before operation ${point}: ${error.message}`).to.equal('cancelled');
      // The cut fell before operation `point`: that many minus one had been done since the mark.
      expect((await cut).operation).to.equal(point - 1);

      await board.control.request('power', { on: true });
      since = board.console.mark();
      await recover(dirs[target]!);
      await expectBooted(versions[target]!, since);
    }
    console.log(`      checked ${points.length} of ${total} cut points of a recovery${full ? '' : ' (SPHERE_RIG_FULL_SWEEP=1 checks all)'}`);
  });

  it('under real timing transfers take the time the baud implies: 115200 for the 1BL and runtime, 3,000,000 for the images', async function () {
    this.timeout(60_000);
    const real = (await board.control.request('speed', { speed: 'real' })) as { timings: { recoveryEraseMs: number } };
    // A real board erases its flash for about 18 s (recovery-protocol.md).
    expect(real.timings.recoveryEraseMs).to.equal(18_000);
    // Real UART pacing, but quick boot lines and a short erase so the test stays short.
    await board.control.request('timings', { bootLineMs: 0, healthWindowMs: 300, recoveryEraseMs: 1_500 });
    try {
      const { dir, set } = setFor('25.01');
      const stamps = new Map<string, number>();
      const since = board.console.mark();
      const events = new Map<number, number>();
      const result = await recover(dir, {
        onProgress: (p) => {
          if (p.kind === 'step') stamps.set(p.stage, performance.now());
          if (p.kind === 'device-event') events.set(p.event!, performance.now());
        },
      });
      await expectBooted('25.01', since);
      // XMODEM puts 133 bytes on the line per 128 of payload, 10 bits a byte.
      const lineMs = (payload: number, baud: number) => (Math.ceil(payload / 128) * 133 * 10 * 1000) / baud;
      const oneBl = set.files[0]!.bytes.length;
      const runtime = set.files[1]!.bytes.length;
      expect(stamps.get('start-1bl')! - stamps.get('send-1bl')!).to.be.greaterThan(lineMs(oneBl, 115_200) - 50);
      expect(stamps.get('line-switch')! - stamps.get('runtime')!).to.be.greaterThan(lineMs(runtime, 115_200) - 50);
      expect(result.line.baudRate).to.equal(3_000_000);
      // The images went after the switch: far quicker than 115200 would allow.
      expect(result.imagingMs).to.be.below(lineMs(result.totalBytes, 115_200));
      // The erase between RecoveryEvent 7 and 8 took the board's time.
      expect(events.get(8)! - events.get(7)!).to.be.at.least(1_500);
    } finally {
      await board.control.request('speed', { speed: 'fast' });
    }
  });
});
