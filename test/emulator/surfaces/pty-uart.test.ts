import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { SerialPort } from 'serialport';
import { PtyUart } from '../../../src/emulator/surfaces/pty-uart.js';
import { RigError } from '../../../src/util/failure.js';
import { allByteValues, closeHostPort, collectBytes, collectUntil, hostWrite, openHostPort, setHostBaudRate } from './serial-host.js';

describe('PtyUart: an emulated UART as a real pseudo-terminal', () => {
  let uart: PtyUart;
  let host: SerialPort | undefined;

  beforeEach(async () => {
    uart = await PtyUart.open({ name: 'test' });
  });

  afterEach(async () => {
    if (host) await closeHostPort(host);
    host = undefined;
    await uart.close();
  });

  it('offers a device path the host opens with serialport', async () => {
    expect(uart.path).to.match(/^\/dev\/pts\/\d+$/);
    host = await openHostPort(uart.path);
    expect(host.isOpen).to.equal(true);
  });

  it('puts the slave in raw mode before the host ever opens it', () => {
    const settings = execFileSync('stty', ['-F', uart.path, '-a'], { env: { ...process.env, LC_ALL: 'C' } }).toString();
    const flags = new Set(settings.split(/[\s;]+/));
    for (const off of ['-echo', '-icanon', '-isig', '-opost', '-icrnl', '-ixon', '-iexten', '-inlcr', '-igncr', '-istrip']) {
      expect(flags.has(off), off).to.equal(true);
    }
    expect(flags.has('cs8')).to.equal(true);
  });

  it('does not echo device output back to the device while no host has the port open', async () => {
    const received: Buffer[] = [];
    uart.on('data', (chunk) => received.push(chunk));
    await uart.write('written before any host opened the line\n');
    host = await openHostPort(uart.path);
    const marker = collectBytes(uart, 6);
    await hostWrite(host, 'marker');
    expect((await marker).toString()).to.equal('marker');
    expect(Buffer.concat(received).toString()).to.equal('marker');
  });

  it('carries what the device writes to the host and what the host writes to the device', async () => {
    host = await openHostPort(uart.path);
    const atHost = collectBytes(host, 12);
    await uart.write('boot: hello\n');
    expect((await atHost).toString()).to.equal('boot: hello\n');

    const atDevice = collectBytes(uart, 9);
    await hostWrite(host, 'reboot\r\n\n');
    expect((await atDevice).toString()).to.equal('reboot\r\n\n');
  });

  it('is 8-bit clean device to host: all 256 byte values, control characters included', async () => {
    host = await openHostPort(uart.path);
    const bytes = allByteValues(8);
    const atHost = collectBytes(host, bytes.length);
    await uart.write(bytes);
    expect((await atHost).equals(bytes)).to.equal(true);
  });

  it('is 8-bit clean host to device: all 256 byte values, XON/XOFF, ^C, CR, LF, DEL, 0xff', async () => {
    host = await openHostPort(uart.path);
    const bytes = Buffer.concat([allByteValues(8), Buffer.from([0x03, 0x11, 0x13, 0x0d, 0x0a, 0x7f, 0xff, 0x00, 0x04, 0x1a])]);
    const atDevice = collectBytes(uart, bytes.length);
    await hostWrite(host, bytes);
    expect((await atDevice).equals(bytes)).to.equal(true);
  });

  it('keeps working when the host closes and reopens the port', async () => {
    for (let round = 0; round < 3; round += 1) {
      host = await openHostPort(uart.path);
      const atHost = collectBytes(host, 8);
      await uart.write(`round ${round}\n`);
      expect((await atHost).toString()).to.equal(`round ${round}\n`);
      const atDevice = collectBytes(uart, 4);
      await hostWrite(host, `ack${round}`);
      expect((await atDevice).toString()).to.equal(`ack${round}`);
      await closeHostPort(host);
      host = undefined;
    }
  });

  it('does not hand the host device output written while nobody had the port open', async () => {
    await uart.write('stale output nobody read\n');
    host = await openHostPort(uart.path);
    const atHost = collectBytes(host, 6);
    await uart.write('fresh\n');
    expect((await atHost).toString()).to.equal('fresh\n');
  });

  it('paces device output at the baud rate under real timing (11,520 bytes at 115200 baud ≈ 1 s)', async function () {
    this.timeout(10_000);
    host = await openHostPort(uart.path);
    uart.timing = 'real';
    uart.baudRate = 115200;
    const bytes = Buffer.alloc(11_520, 0x55);
    const started = performance.now();
    const atHost = collectBytes(host, bytes.length, 8000);
    await uart.write(bytes);
    await atHost;
    const elapsed = performance.now() - started;
    expect(elapsed).to.be.within(900, 2500);
  });

  it('paces host input at the baud rate under real timing', async function () {
    this.timeout(10_000);
    host = await openHostPort(uart.path);
    uart.timing = 'real';
    uart.baudRate = 57600;
    const bytes = Buffer.alloc(2880, 0x2a); // 0.5 s of line time
    const started = performance.now();
    const atDevice = collectBytes(uart, bytes.length, 8000);
    await hostWrite(host, bytes);
    await atDevice;
    expect(performance.now() - started).to.be.within(400, 2000);
  });

  it('moves data as fast as the kernel takes it under fast timing', async () => {
    host = await openHostPort(uart.path);
    const bytes = Buffer.alloc(11_520, 0x55);
    const started = performance.now();
    const atHost = collectBytes(host, bytes.length);
    await uart.write(bytes);
    await atHost;
    expect(performance.now() - started).to.be.below(500);
  });

  it('lets the device read the baud rate and flow control the host has set, 3,000,000 included', async () => {
    host = await openHostPort(uart.path, { baudRate: 115200 });
    expect(await uart.readHostLineSettings()).to.deep.equal({ baudRate: 115200, rtsCts: false, stopBits: 1 });
    await setHostBaudRate(host, 3_000_000);
    expect((await uart.readHostLineSettings()).baudRate).to.equal(3_000_000);
    await closeHostPort(host);
    host = await openHostPort(uart.path, { baudRate: 921600, rtscts: true });
    expect(await uart.readHostLineSettings()).to.deep.equal({ baudRate: 921600, rtsCts: true, stopBits: 1 });
  });

  it('reports a non-standard host rate as unknown rather than a wrong number', async () => {
    host = await openHostPort(uart.path, { baudRate: 250000 });
    expect((await uart.readHostLineSettings()).baudRate).to.equal(null);
  });

  it('without flow control, drops device output the host does not drain instead of stalling', async () => {
    const lossy = await PtyUart.open({ name: 'lossy', stallLimitMs: 50 });
    try {
      const overrun = once(lossy, 'overrun');
      await lossy.write(Buffer.alloc(256 * 1024, 0x41));
      await overrun;
      expect(lossy.droppedBytes).to.be.greaterThan(0);
      // Once overrunning it drops at once: a console nobody reads costs nothing.
      const started = performance.now();
      await lossy.write(Buffer.alloc(4096, 0x42));
      expect(performance.now() - started).to.be.below(40);
    } finally {
      await lossy.close();
    }
  });

  it('with RTS/CTS flow control, waits for the host to drain and loses nothing', async () => {
    const flow = await PtyUart.open({ name: 'flow', flowControl: 'rts-cts' });
    try {
      const bytes = Buffer.alloc(200 * 1024);
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 7) & 0xff;
      const writing = flow.write(bytes);
      host = await openHostPort(flow.path);
      // serialport flushes the input queue on open (as on a real adapter), so up
      // to one pty-full of the start is discarded; everything after must arrive.
      const atHost = collectUntil(host, (received) => received.subarray(-4).toString() === 'done');
      await writing;
      await flow.write('done');
      const received = await atHost;
      const payload = received.subarray(0, -4);
      expect(payload.length).to.be.at.least(bytes.length - 64 * 1024);
      expect(payload.equals(bytes.subarray(bytes.length - payload.length))).to.equal(true);
      expect(flow.droppedBytes).to.equal(0);
    } finally {
      if (host) await closeHostPort(host);
      host = undefined;
      await flow.close();
    }
  });

  it('rejects writes after close with a typed error, and close is idempotent', async () => {
    await uart.close();
    await uart.close();
    const error = await uart.write('late').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(RigError);
    expect((error as RigError).code).to.equal('uart-closed');
  });

  it('cancels a write waiting for flow control when its signal aborts', async () => {
    const flow = await PtyUart.open({ name: 'flow', flowControl: 'rts-cts' });
    try {
      const controller = new AbortController();
      const writing = flow.write(Buffer.alloc(256 * 1024), { signal: controller.signal }).catch((e: unknown) => e);
      controller.abort();
      const error = (await writing) as RigError;
      expect(error).to.be.instanceOf(RigError);
      expect(error.failureClass).to.equal('cancelled');
    } finally {
      await flow.close();
    }
  });

  it('hangs up the host when the UART closes, like an unplugged adapter: the path goes, writes fail', async () => {
    host = await openHostPort(uart.path);
    host.on('error', () => undefined);
    await uart.close();
    expect(existsSync(uart.path)).to.equal(false);
    const error = await hostWrite(host, 'anyone there?').catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).to.equal('EIO');
    expect(host.isOpen).to.equal(false);
    host = undefined;
  });
});
