import { expect } from 'chai';
import { closeSync } from 'node:fs';
import tty from 'node:tty';
import pty from 'node-pty';
import { SerialPort } from 'serialport';
import { StreamChannel } from '../../src/link/stream-channel.js';
import { sendXmodem } from '../../src/link/xmodem-sender.js';
import { receiveXmodem } from '../../src/link/xmodem-receiver.js';
import { patternBytes } from './bytes.js';

/** node-pty's native openpty(3) binding: not in its typings, present on every Unix build. */
interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}
const nativePty = (pty as unknown as { native: NativePty | null }).native;

const quick = { timeoutMs: 5_000 };

/**
 * The host side opens the pseudo-terminal's slave path with serialport, exactly as it
 * opens /dev/ttyUSB3 on a real rig; the emulator side reads and writes the master fd
 * through a Node stream. serialport's open puts the line in raw mode (no echo, no
 * CR/LF mapping, no XON/XOFF), which the all-byte-values check proves.
 */
describe('XMODEM over a real pseudo-terminal', function () {
  let port: SerialPort | undefined;
  let host: StreamChannel | undefined;
  let device: StreamChannel | undefined;

  before(function () {
    if (!nativePty) this.skip();
  });

  beforeEach(async () => {
    const { master, slave, pty: path } = nativePty!.open(80, 24);
    const opened = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    try {
      await new Promise<void>((resolve, reject) => opened.open((error) => (error ? reject(error) : resolve())));
    } finally {
      // serialport holds its own descriptor of the slave now (or failed to); ours is not needed.
      closeSync(slave);
    }
    port = opened;
    host = new StreamChannel(opened, { name: path });
    device = new StreamChannel(new tty.ReadStream(master), { name: `${path} master` });
  });

  afterEach(async () => {
    await host?.close();
    await device?.close();
    expect(port?.isOpen).to.equal(false);
  });

  it('passes every byte value unchanged in both directions', async () => {
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    await host!.write(everyByte);
    expect((await device!.readExact(256, quick)).equals(everyByte)).to.equal(true);
    await device!.write(everyByte);
    expect((await host!.readExact(256, quick)).equals(everyByte)).to.equal(true);
  });

  it('sends a 16,384-byte image from the serial side to the master side', async () => {
    const data = patternBytes(16_384, 0x1b1);
    let lastProgress = 0;
    const [sent, received] = await Promise.all([
      sendXmodem(host!, data, { startTimeoutMs: 5_000, onProgress: (bytes) => (lastProgress = bytes) }),
      receiveXmodem(device!, { expectedLength: data.length, startTimeoutMs: 5_000 }),
    ]);
    expect(received.data.equals(data)).to.equal(true);
    expect(sent.retransmissions).to.equal(0);
    expect(lastProgress).to.equal(data.length);
  });

  it('sends an odd-sized file from the master side to the serial side', async () => {
    const data = patternBytes(5_000, 0x77);
    const [, received] = await Promise.all([
      sendXmodem(device!, data, { startTimeoutMs: 5_000 }),
      receiveXmodem(host!, { expectedLength: data.length, startTimeoutMs: 5_000 }),
    ]);
    expect(received.data.equals(data)).to.equal(true);
  });
});
