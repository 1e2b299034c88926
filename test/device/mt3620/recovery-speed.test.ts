import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import tty from 'node:tty';
import pty from 'node-pty';
import { parseRigConfig } from '../../../src/daemon/rig-config.js';
import { FAST_IMAGING_LINE, LOW_SPEED_IMAGING_LINE, ROM_LINE } from '../../../src/device/recovery-line.js';
import { SerialRecoveryLine } from '../../../src/device/serial-recovery-line.js';
import { sttyArguments } from '../../../src/device/stty-line-switch.js';
import { StreamChannel } from '../../../src/link/stream-channel.js';
import { decodeFrameMessage, encodeFrame, encodeMessage } from '../../../src/link/recovery-frame.js';

/** node-pty's native openpty(3) binding: not in its typings, present on every Unix build. */
interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}
const nativePty = (pty as unknown as { native: NativePty | null }).native;

const SIMPLE_QUERY_ACK = 0xa3;
const STATUS_REQUEST = 2;
const RECOVERY_EVENT = 11;
const quick = { timeoutMs: 5_000 };

/**
 * The recovery line's switch after the BaudrateSwitchQuery, over a real
 * pseudo-terminal: the host holds the slave open with serialport (as it holds
 * /dev/ttyUSB3), the device side is the master. The device answers the host's
 * SimpleQueryAck at once at the new settings (a StatusRequest after a switch
 * to 3,000,000, a RecoveryEvent 7 at low speed); that message must survive
 * the switch: the port is neither closed, nor reopened, nor flushed.
 */
describe('recovery line speed switch in place (pty pair)', function () {
  let line: SerialRecoveryLine | undefined;
  let device: StreamChannel | undefined;
  let path = '';
  /** Kept open, as the emulator keeps its pty's slave: a pty whose last slave descriptor closed cannot be opened again. */
  let slaveFd: number | undefined;

  before(function () {
    if (!nativePty || process.platform !== 'linux') this.skip();
  });

  beforeEach(async () => {
    const { master, slave, pty: slavePath } = nativePty!.open(80, 24);
    path = slavePath;
    slaveFd = slave;
    line = await SerialRecoveryLine.open(path, ROM_LINE, { timeoutMs: 5_000 });
    device = new StreamChannel(new tty.ReadStream(master), { name: `${path} master` });
  });

  afterEach(async () => {
    await line?.close();
    await device?.close();
    if (slaveFd !== undefined) closeSync(slaveFd);
    slaveFd = undefined;
  });

  /** The device reads the host's answer, then sends its next message at once. */
  async function deviceAnswersAtOnce(ackValue: number, next: Buffer): Promise<void> {
    const ack = encodeFrame(encodeMessage(SIMPLE_QUERY_ACK, Uint8Array.of(ackValue)));
    await line!.channel.write(ack);
    expect((await device!.readExact(ack.length, quick)).equals(ack)).to.equal(true);
    await device!.write(next);
  }

  async function sttyReport(): Promise<{ speed: number; crtscts: boolean }> {
    const text = execFileSync('stty', ['-F', path, '-a'], { encoding: 'utf8' });
    return { speed: Number(/speed (\d+) baud/.exec(text)?.[1]), crtscts: text.split(/\s+/).includes('crtscts') };
  }

  it('builds the stty line: speed and flow control on the tty, nothing else', () => {
    expect(sttyArguments('/dev/ttyUSB3', FAST_IMAGING_LINE)).to.deep.equal(['-F', '/dev/ttyUSB3', '3000000', 'crtscts']);
    expect(sttyArguments('/dev/ttyUSB3', LOW_SPEED_IMAGING_LINE)).to.deep.equal(['-F', '/dev/ttyUSB3', '115200', 'crtscts']);
    expect(sttyArguments('/dev/ttyUSB3', ROM_LINE)).to.deep.equal(['-F', '/dev/ttyUSB3', '115200', '-crtscts']);
  });

  it('3,000,000: a StatusRequest the device already sent when the host switches is read after the switch', async () => {
    expect(line!.switchMode).to.equal('in-place');
    const statusRequest = encodeFrame(encodeMessage(STATUS_REQUEST));
    await deviceAnswersAtOnce(1, statusRequest);
    // Wait until the device's bytes are in the host's hands, so the switch happens with them there.
    while (line!.channel.available < statusRequest.length) await new Promise((resolve) => setImmediate(resolve));
    const channel = line!.channel;
    await line!.reconfigure(FAST_IMAGING_LINE, quick);
    expect(line!.channel, 'the same open port and channel').to.equal(channel);
    const frame = await line!.channel.readUntil(0x00, { ...quick, maxBytes: 64 });
    expect(decodeFrameMessage(frame).type).to.equal(STATUS_REQUEST);
    expect(line!.settings).to.deep.equal(FAST_IMAGING_LINE);
    expect(await sttyReport()).to.deep.equal({ speed: 3_000_000, crtscts: true });
  });

  it('3,000,000: a StatusRequest sent while the host is switching is not lost either', async () => {
    const statusRequest = encodeFrame(encodeMessage(STATUS_REQUEST));
    const sent = deviceAnswersAtOnce(1, statusRequest);
    await line!.reconfigure(FAST_IMAGING_LINE, quick);
    await sent;
    const frame = await line!.channel.readUntil(0x00, { ...quick, maxBytes: 64 });
    expect(decodeFrameMessage(frame).type).to.equal(STATUS_REQUEST);
  });

  it('low speed (the default for real boards): RTS/CTS switched on at 115200, and RecoveryEvent 7 right after is kept', async () => {
    const eraseStarted = encodeFrame(encodeMessage(RECOVERY_EVENT, Uint8Array.of(7)));
    await deviceAnswersAtOnce(0, eraseStarted);
    while (line!.channel.available < eraseStarted.length) await new Promise((resolve) => setImmediate(resolve));
    await line!.reconfigure(LOW_SPEED_IMAGING_LINE, quick);
    const message = decodeFrameMessage(await line!.channel.readUntil(0x00, { ...quick, maxBytes: 64 }));
    expect([message.type, [...message.data]]).to.deep.equal([RECOVERY_EVENT, [7]]);
    expect(await sttyReport()).to.deep.equal({ speed: 115_200, crtscts: true });
  });

  it('(why) closing and reopening the port instead loses that StatusRequest: the recovery would wait 30 s for nothing', async () => {
    await line!.close();
    line = await SerialRecoveryLine.open(path, ROM_LINE, { timeoutMs: 5_000, switchMode: 'reopen' });
    const statusRequest = encodeFrame(encodeMessage(STATUS_REQUEST));
    await deviceAnswersAtOnce(1, statusRequest);
    while (line.channel.available < statusRequest.length) await new Promise((resolve) => setImmediate(resolve));
    await line.reconfigure(FAST_IMAGING_LINE, quick);
    const error = await line.channel.readUntil(0x00, { timeoutMs: 300, maxBytes: 64 }).then(() => undefined, (e: unknown) => e);
    expect(error).to.deep.include({ failureClass: 'timeout' });
  });

  it('a missing stty fails the switch as an infrastructure error naming it', async () => {
    await line!.close();
    line = await SerialRecoveryLine.open(path, ROM_LINE, { timeoutMs: 5_000, stty: '/nonexistent/stty' });
    const error = await line.reconfigure(FAST_IMAGING_LINE, quick).then(() => undefined, (e: unknown) => e);
    expect(error).to.deep.include({ failureClass: 'infra-error', code: 'stty-missing' });
  });
});

describe('recovery speed in the rig YAML', () => {
  const rig = (extra: string, boardExtra = ''): string =>
    `name: bench\n${extra}emulator: { boards: 1 }\nboards:\n  - { id: a, driver: mt3620, usbSerial: AS1${boardExtra} }\n  - { id: b, driver: mt3620, usbSerial: AS2, recoverySpeed: low }\n  - { id: e, driver: emulated, emulatorBoard: 0 }\n`;

  it('real boards default to low speed (nothing set); a board or the whole rig may choose high', () => {
    expect(parseRigConfig(rig(''), 'r.yaml').boards.map((b) => b.recoverySpeed)).to.deep.equal([undefined, 'low', undefined]);
    expect(parseRigConfig(rig('realBoards: { recoverySpeed: high }\n'), 'r.yaml').boards.map((b) => b.recoverySpeed)).to.deep.equal(['high', 'low', undefined]);
    expect(parseRigConfig(rig('', ', recoverySpeed: high'), 'r.yaml').boards[0]!.recoverySpeed).to.equal('high');
  });

  it('refuses an unknown speed and a speed on an emulated board, naming the path', () => {
    expect(() => parseRigConfig(rig('realBoards: { recoverySpeed: fast }\n'), 'r.yaml')).to.throw(/realBoards\/recoverySpeed|realBoards\.recoverySpeed/);
    const emulated = 'name: bench\nemulator: { boards: 1 }\nboards:\n  - { id: e, driver: emulated, emulatorBoard: 0, recoverySpeed: high }\n';
    expect(() => parseRigConfig(emulated, 'r.yaml')).to.throw(/boards\[0\]\.recoverySpeed: applies to mt3620 boards only/);
  });
});
