import { expect } from 'chai';
import { createChannelPair, type MemoryChannel } from '../../src/link/memory-channel.js';
import { sendXmodem, type XmodemSendOptions } from '../../src/link/xmodem-sender.js';
import { receiveXmodem, type XmodemReceiveOptions } from '../../src/link/xmodem-receiver.js';
import {
  ACK,
  buildXmodemPacket,
  CAN,
  CRC_PROMPT,
  EOT,
  NAK,
  PAD,
  SOH,
  XMODEM_PACKET_BYTES,
  XmodemError,
} from '../../src/link/xmodem.js';
import { LinkCancelledError, LinkTimeoutError } from '../../src/link/link-errors.js';
import { crc16Xmodem } from '../../src/link/crc16-xmodem.js';
import { patternBytes } from './bytes.js';

const quick = { timeoutMs: 2_000 };
/** Short protocol timeouts so the fault tests finish fast; each is a wait for an event, not a sleep. */
const senderTimeouts: XmodemSendOptions = { startTimeoutMs: 2_000, responseTimeoutMs: 2_000 };
const receiverTimeouts: XmodemReceiveOptions = { promptIntervalMs: 200, startTimeoutMs: 2_000, packetTimeoutMs: 2_000 };

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

function expectXmodemError(error: unknown, code: string): void {
  expect(error, `expected ${code}`).to.be.instanceOf(XmodemError);
  expect((error as XmodemError).code).to.equal(code);
}

async function transfer(
  data: Buffer,
  link: { host: MemoryChannel; device: MemoryChannel },
  send: XmodemSendOptions = {},
  receive: XmodemReceiveOptions = {},
) {
  return Promise.all([
    sendXmodem(link.host, data, { ...senderTimeouts, ...send }),
    receiveXmodem(link.device, { ...receiverTimeouts, ...receive }),
  ]);
}

describe('XMODEM-CRC packets', () => {
  it('builds SOH, block number, complement, 128 bytes padded with 0x1a, CRC-16 big-endian', () => {
    const packet = buildXmodemPacket(257, Buffer.from('hi'));
    expect(packet.length).to.equal(133);
    expect([packet[0], packet[1], packet[2]]).to.deep.equal([SOH, 1, 254]);
    expect(packet.subarray(3, 5).toString()).to.equal('hi');
    expect(packet.subarray(5, 131).every((byte) => byte === PAD)).to.equal(true);
    expect(packet.readUInt16BE(131)).to.equal(crc16Xmodem(packet.subarray(3, 131)));
  });
});

describe('XMODEM-CRC transfer over an in-memory link', () => {
  for (const size of [0, 1, 127, 128, 129, 16_384, 60_000]) {
    it(`delivers exactly ${size} bytes, with the receiver told the length`, async () => {
      const [host, device] = createChannelPair();
      const data = patternBytes(size, size + 1);
      const progress: number[] = [];
      const [sent, received] = await transfer(data, { host, device }, { onProgress: (bytes, total) => {
        expect(total).to.equal(size);
        progress.push(bytes);
      } }, { expectedLength: size });
      expect(received.data.equals(data)).to.equal(true);
      expect(received.blocks).to.equal(Math.ceil(size / 128));
      expect(sent).to.deep.equal({ bytes: size, blocks: Math.ceil(size / 128), retransmissions: 0 });
      expect(progress.length).to.equal(Math.ceil(size / 128));
      if (size > 0) expect(progress.at(-1)).to.equal(size);
      expect(progress).to.deep.equal([...progress].sort((x, y) => x - y));
      // Nothing left over on either side: each consumed exactly the protocol's bytes.
      expect(host.available).to.equal(0);
      expect(device.available).to.equal(0);
    });
  }

  it('returns the padded blocks when the receiver is not told the length', async () => {
    const [host, device] = createChannelPair();
    const data = patternBytes(130);
    const [, received] = await transfer(data, { host, device });
    expect(received.data.length).to.equal(256);
    expect(received.data.subarray(0, 130).equals(data)).to.equal(true);
    expect(received.data.subarray(130).every((byte) => byte === PAD)).to.equal(true);
  });

  it('works when every byte arrives on its own', async () => {
    const [host, device] = createChannelPair({ deliveryChunkBytes: 1 });
    const data = patternBytes(1000);
    const [, received] = await transfer(data, { host, device }, {}, { expectedLength: 1000 });
    expect(received.data.equals(data)).to.equal(true);
  });

  it('NAKs a corrupted block and takes the resent copy', async () => {
    // Offset 2 * 133 + 40: a data byte of block 3.
    const [host, device] = createChannelPair({ aToB: { corruptBytes: [2 * XMODEM_PACKET_BYTES + 40] } });
    const data = patternBytes(1000);
    const [sent, received] = await transfer(data, { host, device }, {}, { expectedLength: 1000 });
    expect(received.data.equals(data)).to.equal(true);
    expect(received.naks).to.equal(1);
    expect(sent.retransmissions).to.equal(1);
  });

  it('NAKs a block whose number and complement disagree', async () => {
    const [host, device] = createChannelPair({ aToB: { corruptBytes: [XMODEM_PACKET_BYTES + 2] } });
    const data = patternBytes(300);
    const [sent, received] = await transfer(data, { host, device }, {}, { expectedLength: 300 });
    expect(received.data.equals(data)).to.equal(true);
    expect(received.naks).to.equal(1);
    expect(sent.retransmissions).to.equal(1);
  });

  it('ACKs and ignores a block sent again because its ACK was lost', async () => {
    // The device writes 'C', then one ACK per block: write 2 is the ACK of block 2.
    const [host, device] = createChannelPair({ bToA: { dropWrites: [2] } });
    const data = patternBytes(500);
    const [sent, received] = await transfer(
      data,
      { host, device },
      { responseTimeoutMs: 50 },
      { expectedLength: 500 },
    );
    expect(received.data.equals(data)).to.equal(true);
    expect(received.duplicates).to.equal(1);
    expect(received.blocks).to.equal(4);
    expect(sent.retransmissions).to.equal(1);
  });

  it('gives up with a typed error when the retries run out on the sender, and tells the receiver', async () => {
    const [host, device] = createChannelPair({
      aToB: { intercept: (packet) => (packet[0] === SOH ? Buffer.concat([packet.subarray(0, 50), Buffer.of(packet[50]! ^ 1), packet.subarray(51)]) : undefined) },
    });
    const [sender, receiver] = await Promise.all([
      settle(sendXmodem(host, patternBytes(300), { ...senderTimeouts, maxRetries: 3 })),
      settle(receiveXmodem(device, { ...receiverTimeouts, maxRetries: 50 })),
    ]);
    expectXmodemError(sender.error, 'xmodem-retries-exhausted');
    expect((sender.error as XmodemError).details).to.include({ tries: 4 });
    expect((sender.error as XmodemError).failureClass).to.equal('device-fault');
    expectXmodemError(receiver.error, 'xmodem-cancelled-by-peer');
  });

  it('gives up with a typed error when the retries run out on the receiver, and tells the sender', async () => {
    const [host, device] = createChannelPair({
      aToB: { intercept: (packet) => (packet[0] === SOH ? Buffer.concat([packet.subarray(0, 131), Buffer.of(0, 0)]) : undefined) },
    });
    const [sender, receiver] = await Promise.all([
      settle(sendXmodem(host, patternBytes(300), { ...senderTimeouts, maxRetries: 50 })),
      settle(receiveXmodem(device, { ...receiverTimeouts, maxRetries: 2 })),
    ]);
    expectXmodemError(receiver.error, 'xmodem-retries-exhausted');
    expect((receiver.error as XmodemError).details).to.include({ tries: 3 });
    expectXmodemError(sender.error, 'xmodem-cancelled-by-peer');
  });

  it('stops the sender on its AbortSignal and cancels the receiver with CAN CAN', async () => {
    const [host, device] = createChannelPair();
    const controller = new AbortController();
    const [sender, receiver] = await Promise.all([
      settle(sendXmodem(host, patternBytes(5000), { ...senderTimeouts, signal: controller.signal, onProgress: (bytes) => {
        if (bytes >= 1024) controller.abort();
      } })),
      settle(receiveXmodem(device, receiverTimeouts)),
    ]);
    expect(sender.error).to.be.instanceOf(LinkCancelledError);
    expectXmodemError(receiver.error, 'xmodem-cancelled-by-peer');
  });

  it('stops the receiver on its AbortSignal and cancels the sender with CAN CAN', async () => {
    const [host, device] = createChannelPair();
    const controller = new AbortController();
    const [sender, receiver] = await Promise.all([
      settle(sendXmodem(host, patternBytes(5000), senderTimeouts)),
      settle(receiveXmodem(device, { ...receiverTimeouts, signal: controller.signal, onProgress: (bytes) => {
        if (bytes >= 1024) controller.abort();
      } })),
    ]);
    expect(receiver.error).to.be.instanceOf(LinkCancelledError);
    expectXmodemError(sender.error, 'xmodem-cancelled-by-peer');
  });

  it('honours a signal that is already aborted', async () => {
    const [host, device] = createChannelPair();
    const error = (await settle(receiveXmodem(device, { signal: AbortSignal.abort() }))).error;
    expect(error).to.be.instanceOf(LinkCancelledError);
    expect((await settle(sendXmodem(host, Buffer.alloc(1), { signal: AbortSignal.abort() }))).error).to.be.instanceOf(
      LinkCancelledError,
    );
  });
});

describe('XMODEM-CRC against a hand-played peer', () => {
  it('sender: stops when the receiver sends CAN CAN', async () => {
    const [host, device] = createChannelPair();
    const sending = settle(sendXmodem(host, patternBytes(400), senderTimeouts));
    await device.write(Buffer.of(CRC_PROMPT));
    await device.readExact(XMODEM_PACKET_BYTES, quick);
    await device.write(Buffer.of(CAN, CAN));
    expectXmodemError((await sending).error, 'xmodem-cancelled-by-peer');
  });

  it('sender: takes a lone CAN for line noise and goes on', async () => {
    const [host, device] = createChannelPair();
    const sending = sendXmodem(host, patternBytes(100), senderTimeouts);
    await device.write(Buffer.of(CRC_PROMPT));
    await device.readExact(XMODEM_PACKET_BYTES, quick);
    await device.write(Buffer.of(CAN, ACK));
    expect(await device.readByte(quick)).to.equal(EOT);
    await device.write(Buffer.of(ACK));
    expect((await sending).blocks).to.equal(1);
  });

  it('sender: skips banner text before the first C prompt', async () => {
    const [host, device] = createChannelPair();
    const sending = sendXmodem(host, patternBytes(10), senderTimeouts);
    await device.write(Buffer.from('\r\n...\r\n'));
    await device.write(Buffer.of(CRC_PROMPT, CRC_PROMPT, CRC_PROMPT));
    const packet = await device.readExact(XMODEM_PACKET_BYTES, quick);
    expect(packet[1]).to.equal(1);
    await device.write(Buffer.of(ACK));
    expect(await device.readByte(quick)).to.equal(EOT);
    await device.write(Buffer.of(ACK));
    await sending;
    expect(device.available).to.equal(0);
  });

  it('sender: times out when no receiver ever prompts', async () => {
    const [host] = createChannelPair();
    const { error } = await settle(sendXmodem(host, Buffer.alloc(10), { startTimeoutMs: 30 }));
    expect(error).to.be.instanceOf(LinkTimeoutError);
    expect((error as LinkTimeoutError).failureClass).to.equal('timeout');
  });

  it('sender: resends on silence, then gives up after maxRetries and sends CAN CAN', async () => {
    const [host, device] = createChannelPair();
    const sending = settle(sendXmodem(host, patternBytes(10), { responseTimeoutMs: 20, maxRetries: 2 }));
    await device.write(Buffer.of(CRC_PROMPT));
    const { error } = await sending;
    expectXmodemError(error, 'xmodem-retries-exhausted');
    expect((error as XmodemError).details).to.include({ tries: 3, lastAnswer: 'timeout' });
    const wire = device.take();
    expect(wire.length).to.equal(3 * XMODEM_PACKET_BYTES + 2);
    expect([...wire.subarray(-2)]).to.deep.equal([CAN, CAN]);
  });

  it('receiver: prompts with C at its interval and times out when no sender answers', async () => {
    const [host, device] = createChannelPair();
    const receiving = settle(receiveXmodem(device, { promptIntervalMs: 10, startTimeoutMs: 300 }));
    const prompts = await host.readExact(3, quick);
    expect([...prompts]).to.deep.equal([CRC_PROMPT, CRC_PROMPT, CRC_PROMPT]);
    const { error } = await receiving;
    expect(error).to.be.instanceOf(LinkTimeoutError);
    expect(host.take().every((byte) => byte === CRC_PROMPT)).to.equal(true);
  });

  it('receiver: stops when the sender sends CAN CAN', async () => {
    const [host, device] = createChannelPair();
    const receiving = settle(receiveXmodem(device, receiverTimeouts));
    expect(await host.readByte(quick)).to.equal(CRC_PROMPT);
    await host.write(Buffer.of(CAN, CAN));
    expectXmodemError((await receiving).error, 'xmodem-cancelled-by-peer');
  });

  it('receiver: NAKs silence after the transfer started, then gives up after maxRetries', async () => {
    const [host, device] = createChannelPair();
    const receiving = settle(receiveXmodem(device, { ...receiverTimeouts, packetTimeoutMs: 20, maxRetries: 2 }));
    expect(await host.readByte(quick)).to.equal(CRC_PROMPT);
    await host.write(buildXmodemPacket(1, Buffer.alloc(128, 7)));
    expect(await host.readByte(quick)).to.equal(ACK);
    const { error } = await receiving;
    expectXmodemError(error, 'xmodem-retries-exhausted');
    expect([...host.take()]).to.deep.equal([NAK, NAK, CAN, CAN]);
  });

  it('receiver: refuses a block out of sequence', async () => {
    const [host, device] = createChannelPair();
    const receiving = settle(receiveXmodem(device, receiverTimeouts));
    expect(await host.readByte(quick)).to.equal(CRC_PROMPT);
    await host.write(buildXmodemPacket(3, Buffer.alloc(128)));
    expectXmodemError((await receiving).error, 'xmodem-out-of-sequence');
    expect([...host.take()]).to.deep.equal([CAN, CAN]);
  });

  it('receiver: refuses a transfer shorter or longer than the expected length', async () => {
    const [host, device] = createChannelPair();
    const short = settle(receiveXmodem(device, { ...receiverTimeouts, expectedLength: 200 }));
    await sendXmodem(host, patternBytes(100), senderTimeouts);
    expectXmodemError((await short).error, 'xmodem-length-mismatch');

    const [host2, device2] = createChannelPair();
    const long = settle(receiveXmodem(device2, { ...receiverTimeouts, expectedLength: 100 }));
    const sent = await settle(sendXmodem(host2, patternBytes(200), senderTimeouts));
    expectXmodemError((await long).error, 'xmodem-too-long');
    expectXmodemError(sent.error, 'xmodem-cancelled-by-peer');
  });

  it('receiver: wraps block numbers past 255', async () => {
    const [host, device] = createChannelPair();
    const data = patternBytes(300 * 128 + 5);
    const [, received] = await transfer(data, { host, device }, {}, { expectedLength: data.length });
    expect(received.blocks).to.equal(301);
    expect(received.data.equals(data)).to.equal(true);
  });
});
