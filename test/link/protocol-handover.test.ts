import { expect } from 'chai';
import { createChannelPair } from '../../src/link/memory-channel.js';
import { sendXmodem } from '../../src/link/xmodem-sender.js';
import { receiveXmodem } from '../../src/link/xmodem-receiver.js';
import { encodeFrame, FrameDecoder, type FrameDrop } from '../../src/link/recovery-frame.js';
import { readFrameMessage } from '../../src/link/recovery-frame-reader.js';
import { decodeRecoveryMessage, encodeRecoveryMessage, type RecoveryMessage } from '../../src/link/recovery-messages.js';
import { LinkCancelledError, LinkTimeoutError } from '../../src/link/link-errors.js';
import { hex, patternBytes } from './bytes.js';

const quick = { timeoutMs: 2_000 };
const frameOf = (message: RecoveryMessage) => encodeFrame(encodeRecoveryMessage(message));
const DEVICE_ID = 'ab'.repeat(64);

describe('handing one stream from protocol to protocol', () => {
  it('host: XMODEM, then the boot lines, then a frame that all came in the same chunk as the last ACK', async () => {
    const data = patternBytes(16_384);
    const blocks = data.length / 128;
    const afterTransfer = Buffer.concat([
      Buffer.from('+GOOD\r\n[1BL] BOOT: 380a0300/00000001/02000000\r\n'),
      frameOf({ kind: 'Initialization', version: 1, deviceId: DEVICE_ID }),
      frameOf({ kind: 'RecoveryEvent', event: 1 }),
    ]);
    // The device writes 'C', one ACK per block, then the ACK of EOT (write blocks + 1): glue the rest to that.
    const [host, device] = createChannelPair({
      bToA: { intercept: (bytes, info) => (info.writeIndex === blocks + 1 ? Buffer.concat([bytes, afterTransfer]) : undefined) },
    });
    const [sent, received] = await Promise.all([
      sendXmodem(host, data, { startTimeoutMs: 2_000 }),
      receiveXmodem(device, { expectedLength: data.length }),
    ]);
    expect(sent.blocks).to.equal(blocks);
    expect(received.data.equals(data)).to.equal(true);

    expect((await host.readUntil(Buffer.from('\r\n'), quick)).toString()).to.equal('+GOOD\r\n');
    expect((await host.readUntil(Buffer.from('\r\n'), quick)).toString()).to.match(/^\[1BL\] BOOT: /);
    const decoder = new FrameDecoder();
    const first = decodeRecoveryMessage(await readFrameMessage(host, decoder, quick));
    expect(first).to.deep.equal({ kind: 'Initialization', version: 1, deviceId: DEVICE_ID });
    // Only the first frame was taken: the second is still in the channel, whole.
    expect(host.available).to.equal(frameOf({ kind: 'RecoveryEvent', event: 1 }).length);
    expect(decodeRecoveryMessage(await readFrameMessage(host, decoder, quick))).to.deep.equal({ kind: 'RecoveryEvent', event: 1 });
  });

  it('device: a frame, then XMODEM, then the next frame glued to the EOT', async () => {
    const data = patternBytes(392);
    const next = frameOf({ kind: 'SimpleQueryAck', value: 0 });
    // The host writes the frame (write 0), 4 packets (1..4), then EOT (5): glue the next frame to the EOT.
    const [host, device] = createChannelPair({
      aToB: { intercept: (bytes, info) => (info.writeIndex === 5 ? Buffer.concat([bytes, next]) : undefined) },
    });
    await host.write(frameOf({ kind: 'ImageRequestAck', start: 0, sendLength: 392, totalLength: 392 }));
    const decoder = new FrameDecoder();
    const ack = decodeRecoveryMessage(await readFrameMessage(device, decoder, quick));
    expect(ack).to.deep.equal({ kind: 'ImageRequestAck', start: 0, sendLength: 392, totalLength: 392 });
    const [, received] = await Promise.all([
      sendXmodem(host, data),
      receiveXmodem(device, { expectedLength: ack.kind === 'ImageRequestAck' ? ack.sendLength : 0 }),
    ]);
    expect(received.data.equals(data)).to.equal(true);
    expect(decodeRecoveryMessage(await readFrameMessage(device, decoder, quick))).to.deep.equal({ kind: 'SimpleQueryAck', value: 0 });
    expect(device.available).to.equal(0);
  });
});

describe('reading one frame at a time from a channel', () => {
  it('skips bad frames, reporting them, and returns the next good one', async () => {
    const [host, device] = createChannelPair();
    const corrupt = hex('02 04 02 a0 01 01 03 d7 ed 00');
    const decoder = new FrameDecoder();
    const drops: FrameDrop[] = [];
    decoder.on('dropped', (drop) => drops.push(drop));
    const reading = readFrameMessage(host, decoder, quick);
    await device.write(Buffer.concat([corrupt, hex('00 00'), frameOf({ kind: 'LogConfigQuery' })]));
    expect(decodeRecoveryMessage(await reading)).to.deep.equal({ kind: 'LogConfigQuery' });
    expect(drops.map((drop) => drop.reason)).to.deep.equal(['crc-mismatch']);
  });

  it('discards a run with no delimiter in bounded pieces, then decodes what follows', async () => {
    const [host, device] = createChannelPair({ maxBufferedBytes: 4096 });
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    const reading = readFrameMessage(host, decoder, quick);
    await device.write(Buffer.alloc(1000, 0x55));
    await device.write(Buffer.concat([hex('00'), frameOf({ kind: 'StatusRequest' })]));
    expect(decodeRecoveryMessage(await reading)).to.deep.equal({ kind: 'StatusRequest' });
    expect(decoder.dropsByReason.oversize).to.equal(1);
    expect(host.available).to.equal(0);
  });

  it('times out over the whole wait, dropped frames included, and honours the signal', async () => {
    const [host, device] = createChannelPair();
    await device.write(hex('05 11 22 00'));
    const decoder = new FrameDecoder();
    let error: unknown;
    try {
      await readFrameMessage(host, decoder, { timeoutMs: 20 });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(LinkTimeoutError);
    expect((error as LinkTimeoutError).details).to.include({ droppedFrames: 1 });

    const controller = new AbortController();
    const reading = readFrameMessage(host, decoder, { timeoutMs: 10_000, signal: controller.signal });
    controller.abort();
    let cancelled: unknown;
    try {
      await reading;
    } catch (caught) {
      cancelled = caught;
    }
    expect(cancelled).to.be.instanceOf(LinkCancelledError);
  });
});
