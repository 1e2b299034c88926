import { expect } from 'chai';
import { PassThrough, Duplex } from 'node:stream';
import { createChannelPair } from '../../src/link/memory-channel.js';
import { StreamChannel } from '../../src/link/stream-channel.js';
import { LinkClosedError } from '../../src/link/link-errors.js';
import { hex } from './bytes.js';

const quick = { timeoutMs: 1_000 };

/** A duplex whose writes come out of `toPeer` and whose reads come from `fromPeer`. */
function loopbackPair(): { stream: Duplex; toPeer: PassThrough; fromPeer: PassThrough } {
  const toPeer = new PassThrough();
  const fromPeer = new PassThrough();
  const stream = Duplex.from({ readable: fromPeer, writable: toPeer });
  return { stream, toPeer, fromPeer };
}

describe('in-memory channel pair', () => {
  it('delivers what one end writes to the other, both ways', async () => {
    const [a, b] = createChannelPair();
    await a.write(hex('01 02'));
    await b.write(hex('03'));
    expect((await b.readExact(2, quick)).toString('hex')).to.equal('0102');
    expect(await a.readByte(quick)).to.equal(3);
  });

  it('corrupts chosen stream offsets and drops chosen writes', async () => {
    const [a, b] = createChannelPair({ aToB: { corruptBytes: [1, 4], dropWrites: [1] } });
    await a.write(hex('00 00 00')); // offsets 0..2
    await a.write(hex('11 11')); // write 1: lost
    await a.write(hex('22 22 22')); // offsets 5..7
    expect(b.take().toString('hex')).to.equal('00ff00222222');
    expect(a.writeCount).to.equal(3);
    expect(a.bytesWritten).to.equal(8);
  });

  it('lets a test intercept writes, and change faults mid-stream', async () => {
    const [a, b] = createChannelPair();
    a.faults = { intercept: (data) => Buffer.concat([data, data]) };
    await a.write(hex('ab'));
    a.faults = {};
    await a.write(hex('cd'));
    expect(b.take().toString('hex')).to.equal('ababcd');
  });

  it('delivers in small pieces when asked, as a UART would', async () => {
    const [a, b] = createChannelPair({ deliveryChunkBytes: 1 });
    const line = b.readUntil(0x0a, quick);
    await a.write(Buffer.from('RECOVERY\n'));
    expect((await line).toString()).to.equal('RECOVERY\n');
  });

  it('fails the other end’s reads and writes once one end closes', async () => {
    const [a, b] = createChannelPair();
    const pending = b.readByte({ timeoutMs: 10_000 });
    await a.close();
    let error: unknown;
    try {
      await pending;
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(LinkClosedError);
    let writeError: unknown;
    try {
      await b.write(hex('01'));
    } catch (caught) {
      writeError = caught;
    }
    expect(writeError).to.be.instanceOf(LinkClosedError);
    expect(a.closed).to.equal(true);
    await b.close();
  });
});

describe('StreamChannel over a Node stream', () => {
  it('reads what the stream emits and writes through it', async () => {
    const { stream, toPeer, fromPeer } = loopbackPair();
    const channel = new StreamChannel(stream, { name: 'loopback' });
    fromPeer.write(hex('10 20 30'));
    expect((await channel.readExact(3, quick)).toString('hex')).to.equal('102030');
    const written = new Promise<Buffer>((resolve) => toPeer.once('data', resolve));
    await channel.write(hex('aa bb'));
    expect((await written).toString('hex')).to.equal('aabb');
    await channel.close();
    expect(stream.destroyed).to.equal(true);
  });

  it('fails a waiting read at once when the stream ends', async () => {
    const { stream, fromPeer } = loopbackPair();
    const channel = new StreamChannel(stream);
    const pending = channel.readByte({ timeoutMs: 10_000 });
    fromPeer.end();
    let error: unknown;
    try {
      await pending;
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(LinkClosedError);
    await channel.close();
  });

  it('leaves the stream open when it does not own it', async () => {
    const { stream } = loopbackPair();
    const channel = new StreamChannel(stream, { ownsStream: false });
    await channel.close();
    expect(stream.destroyed).to.equal(false);
    stream.destroy();
  });
});
