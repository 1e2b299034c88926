import { expect } from 'chai';
import { ImageType } from '../../src/image/image-types.js';
import { disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../helpers/emulator-process.js';

/** The stage lines of a cold boot, in the order the chain runs them. */
const COLD_BOOT = [
  /^\[ROM\] MT3620 boot \d+$/,
  /^\[ROM\] booting slot a$/,
  /^\[ROM\] verified OneBL [0-9a-f-]{36}$/,
  /^\[1BL\] BOOT: 380a0300\/00000001\/02000000$/,
  /^\[1BL\] verified BootManifest /,
  /^\[1BL\] image set for OS 22\.11$/,
  /^\[1BL\] verified TrustedKeystore /,
  /^\[1BL\] verified PlutonRuntime /,
  /^\[PLUTON\] runtime ok$/,
  /^\[PLUTON\] verified SecurityMonitor /,
  /^\[SM\] secure world up$/,
  /^\[SM\] verified NormalWorldLoader /,
  /^\[NWL\] verified NormalWorldDTB /,
  /^\[NWL\] verified NormalWorldKernel /,
  /^\[KERNEL\] Linux booting$/,
  /^\[KERNEL\] verified RootFs /,
  /^\[OS\] verified Services /,
  /^\[OS\] Azure Sphere OS 22\.11$/,
  /^\[OS\] services up$/,
];

describe('emulated board: secure boot through its pty console and control channel', function () {
  this.timeout(60_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;

  beforeEach(async () => {
    emulator = await EmulatorProcess.start({ boards: 1 });
    board = await emulator.connect(0);
  });

  afterEach(async () => {
    await disconnect(board);
    expect(await emulator.stop()).to.equal(0);
  });

  it('prints every boot stage in order on a cold boot and reaches services up', async () => {
    const since = board.console.mark();
    await board.control.request('power', { on: true });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    const texts = board.console.lines(since).map((l) => l.text);
    expect(texts).to.have.length(COLD_BOOT.length);
    COLD_BOOT.forEach((pattern, i) => expect(texts[i], `line ${i}`).to.match(pattern));
    const info = await board.control.request('info', {});
    expect(info).to.include({ state: 'ready', osVersion: '22.11', activeSlot: 'a' });
    expect(info.deviceId).to.match(/^[0-9a-f]{128}$/);
  });

  it('boots the backup slot, and says so, when the active kernel is tampered with', async () => {
    await powerOnAndWaitForServices(board);
    await board.control.request('corrupt', { slot: 'active', imageType: ImageType.NormalWorldKernel });
    const since = board.console.mark();
    await board.control.request('reset', {});
    await board.console.expect(/^\[NWL\] verification failed: NormalWorldKernel [0-9a-f-]{36}: bad-signature$/, { timeoutMs: 10_000, since });
    await board.console.expect('[ROM] falling back to backup slot b', { timeoutMs: 10_000, since });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    expect(await board.control.request('info', {})).to.include({ state: 'ready', activeSlot: 'b' });
    const report = await board.control.request('error-report', {});
    expect(JSON.stringify(report.events)).to.match(/BootFailure \(slot=a; stage=NWL; image_type=NormalWorldKernel/);
  });

  it('stays in ROM waiting for recovery when both copies are bad', async () => {
    await powerOnAndWaitForServices(board);
    await board.control.request('corrupt', { slot: 'a', imageType: ImageType.NormalWorldKernel });
    await board.control.request('corrupt', { slot: 'b', imageType: ImageType.RootFs });
    const since = board.console.mark();
    await board.control.request('reset', {});
    await board.console.expect('[ROM] no bootable image set; waiting for recovery', { timeoutMs: 10_000, since });
    const texts = board.console.lines(since).map((l) => l.text);
    expect(texts.some((t) => t.startsWith('[KERNEL] verification failed: RootFs'))).to.equal(true);
    expect(texts).to.not.include('[OS] services up');
    expect(await board.control.request('info', {})).to.include({ state: 'rom-wait' });
  });
});
