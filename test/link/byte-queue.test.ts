import { expect } from 'chai';
import { ByteQueue } from '../../src/link/byte-queue.js';
import {
  LinkCancelledError,
  LinkClosedError,
  LinkOverflowError,
  LinkTimeoutError,
  LinkUsageError,
} from '../../src/link/link-errors.js';
import { hex } from './bytes.js';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  expect.fail('expected the promise to reject');
}

const quick = { timeoutMs: 1_000 };

describe('ByteQueue', () => {
  it('serves a read from bytes already buffered, without waiting', async () => {
    const queue = new ByteQueue();
    queue.push(hex('01 02 03'));
    expect(await queue.readByte({ timeoutMs: 0 })).to.equal(1);
    expect((await queue.readExact(2, { timeoutMs: 0 })).toString('hex')).to.equal('0203');
    expect(queue.available).to.equal(0);
  });

  it('completes a pending read when enough chunks have arrived, across chunk boundaries', async () => {
    const queue = new ByteQueue();
    const read = queue.readExact(5, quick);
    queue.push(hex('01 02'));
    queue.push(hex('03'));
    queue.push(hex('04 05 06'));
    expect((await read).toString('hex')).to.equal('0102030405');
    expect(queue.available).to.equal(1);
  });

  it('reads up to and including a delimiter, leaving what follows for the next reader', async () => {
    const queue = new ByteQueue();
    const line = queue.readUntil(Buffer.from('\r\n'), quick);
    queue.push(Buffer.from('+GOOD\r'));
    queue.push(Buffer.from('\n[1BL] BOOT'));
    expect((await line).toString()).to.equal('+GOOD\r\n');
    expect(queue.take().toString()).to.equal('[1BL] BOOT');
  });

  it('finds a byte delimiter pushed one byte at a time', async () => {
    const queue = new ByteQueue();
    const frame = queue.readUntil(0x00, quick);
    for (const byte of hex('02 04 02 a0 01 01 03 d7 ec 00 43')) queue.push(Buffer.of(byte));
    expect((await frame).toString('hex')).to.equal('020402a0010103d7ec00');
    expect(queue.available).to.equal(1);
  });

  it('fails a delimited read that finds no delimiter within maxBytes, keeping the bytes', async () => {
    const queue = new ByteQueue();
    const read = queue.readUntil(0x00, { ...quick, maxBytes: 4 });
    queue.push(hex('11 22 33'));
    queue.push(hex('44 55'));
    const error = await rejection(read);
    expect(error).to.be.instanceOf(LinkOverflowError);
    expect(queue.available).to.equal(5);
  });

  it('times out with a typed error, and a later read still works', async () => {
    const queue = new ByteQueue();
    const error = await rejection(queue.readByte({ timeoutMs: 10 }));
    expect(error).to.be.instanceOf(LinkTimeoutError);
    expect((error as LinkTimeoutError).failureClass).to.equal('timeout');
    queue.push(hex('07'));
    expect(await queue.readByte(quick)).to.equal(7);
  });

  it('honours an AbortSignal, already aborted or aborted while waiting', async () => {
    const queue = new ByteQueue();
    queue.push(hex('01'));
    const error = await rejection(queue.readByte({ timeoutMs: 1_000, signal: AbortSignal.abort() }));
    expect(error).to.be.instanceOf(LinkCancelledError);
    expect(queue.available).to.equal(1);

    const controller = new AbortController();
    const pending = queue.readExact(2, { timeoutMs: 10_000, signal: controller.signal });
    controller.abort(new Error('operator stopped the run'));
    const cancelled = await rejection(pending);
    expect(cancelled).to.be.instanceOf(LinkCancelledError);
    expect((cancelled as LinkCancelledError).failureClass).to.equal('cancelled');
    expect(queue.available).to.equal(1);
  });

  it('fails a pending read at once when the input ends, after the buffered bytes are read', async () => {
    const queue = new ByteQueue();
    queue.push(hex('01'));
    const pending = queue.readExact(2, { timeoutMs: 10_000 });
    queue.end(new Error('EIO'));
    const error = await rejection(pending);
    expect(error).to.be.instanceOf(LinkClosedError);
    expect((error as LinkClosedError).cause).to.be.instanceOf(Error);
    expect(await queue.readByte({ timeoutMs: 0 })).to.equal(1);
    expect(await rejection(queue.readByte(quick))).to.be.instanceOf(LinkClosedError);
  });

  it('refuses a second read while one is pending', async () => {
    const queue = new ByteQueue();
    const first = queue.readByte(quick);
    expect(await rejection(queue.readByte(quick))).to.be.instanceOf(LinkUsageError);
    queue.push(hex('09'));
    expect(await first).to.equal(9);
  });

  it('gives bytes back to the front with unshift, and discards everything with discard', async () => {
    const queue = new ByteQueue();
    queue.push(hex('03 04'));
    queue.unshift(hex('01 02'));
    expect(queue.take(3).toString('hex')).to.equal('010203');
    queue.unshift(hex('aa'));
    expect(queue.discard()).to.equal(2);
    expect(queue.available).to.equal(0);
  });

  it('stays within maxBufferedBytes by dropping the oldest bytes, and counts them', () => {
    const queue = new ByteQueue({ maxBufferedBytes: 8 });
    queue.push(hex('01 02 03 04 05 06'));
    queue.push(hex('07 08 09 0a'));
    expect(queue.available).to.equal(8);
    expect(queue.droppedBytes).to.equal(2);
    expect(queue.take().toString('hex')).to.equal('030405060708090a');
    queue.push(Buffer.alloc(20, 0xee));
    expect(queue.available).to.equal(8);
    expect(queue.droppedBytes).to.equal(14);
  });

  it('keeps reading correctly while its buffer is compacted and grown', async () => {
    const queue = new ByteQueue();
    const all: number[] = [];
    let next = 0;
    for (let round = 0; round < 200; round += 1) {
      const chunk = Buffer.alloc((round * 37) % 300 + 1);
      for (let i = 0; i < chunk.length; i += 1) chunk[i] = next++ & 0xff;
      queue.push(chunk);
      const got = await queue.readExact(Math.min(queue.available, (round * 53) % 250 + 1), quick);
      all.push(...got);
    }
    all.push(...queue.take());
    expect(all.length).to.equal(next);
    expect(all.every((byte, index) => byte === (index & 0xff))).to.equal(true);
  });
});
