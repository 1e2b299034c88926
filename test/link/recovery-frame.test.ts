import { expect } from 'chai';
import {
  decodeFrame,
  decodeFrameMessage,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameError,
  type DecodedMessage,
  type FrameDrop,
} from '../../src/link/recovery-frame.js';
import { cobsDecode, cobsEncode } from '../../src/link/cobs.js';
import { crc16Xmodem } from '../../src/link/crc16-xmodem.js';
import { LinkUsageError } from '../../src/link/link-errors.js';
import { hex, patternBytes } from './bytes.js';

const INITIALIZATION_ACK_FRAME = '02 04 02 a0 01 01 03 d7 ec 00';
const EVENT_THEN_LOG_QUERY = '02 05 02 0b 02 01 04 01 49 b2 00 02 04 02 09 01 01 03 d6 f5 00';
const SIMPLE_QUERY_ACK_FRAME = '02 05 02 a3 02 01 01 03 21 8a 00';
/** A device ID of the documented shape (the spec elides the real one). */
const DEVICE_ID = '006fe629'.padEnd(120, '0123456789abcdef') + 'cd7bee8'.padStart(8, '0');

function frameError(frame: Buffer): FrameError {
  try {
    decodeFrame(frame);
  } catch (error) {
    expect(error).to.be.instanceOf(FrameError);
    return error as FrameError;
  }
  expect.fail('frame should not decode');
}

/** A frame built by hand around raw (length | message | crc) bytes, so fields can be wrong on purpose. */
function rawFrame(raw: Buffer): Buffer {
  return Buffer.concat([cobsEncode(raw), hex('00')]);
}

describe('recovery frames: the spec wire vectors', () => {
  it('frames the host InitializationAck as 02 04 02 a0 01 01 03 d7 ec 00', () => {
    expect(encodeMessage(0xa0).toString('hex')).to.equal('a0000000');
    expect(encodeFrame(hex('a0 00 00 00')).toString('hex')).to.equal(hex(INITIALIZATION_ACK_FRAME).toString('hex'));
  });

  it('decodes the InitializationAck frame back to its message', () => {
    const decoded = decodeFrameMessage(hex(INITIALIZATION_ACK_FRAME));
    expect(decoded.message.toString('hex')).to.equal('a0000000');
    expect(decoded.type).to.equal(0xa0);
    expect(decoded.data.length).to.equal(0);
  });

  it('frames the host SimpleQueryAck 0 as 02 05 02 a3 02 01 01 03 21 8a 00, and decodes it', () => {
    expect(encodeMessage(0xa3, hex('00')).toString('hex')).to.equal('a300010000');
    expect(encodeFrame(hex('a3 00 01 00 00')).toString('hex')).to.equal(hex(SIMPLE_QUERY_ACK_FRAME).toString('hex'));
    expect(decodeFrame(hex(SIMPLE_QUERY_ACK_FRAME)).toString('hex')).to.equal('a300010000');
  });

  it('decodes RecoveryEvent 1 and LogConfigQuery arriving back to back in one read', () => {
    const decoder = new FrameDecoder();
    const messages = decoder.push(hex(EVENT_THEN_LOG_QUERY));
    expect(messages.map((m) => m.message.toString('hex'))).to.deep.equal(['0b00010001', '09000000']);
    expect(messages.map((m) => m.type)).to.deep.equal([0x0b, 0x09]);
    expect(messages[0]!.data.toString('hex')).to.equal('01');
    expect(decoder.framesDropped).to.equal(0);
  });

  it('encodes RecoveryEvent 1 and LogConfigQuery to the exact captured bytes', () => {
    const wire = Buffer.concat([encodeFrame(hex('0b 00 01 00 01')), encodeFrame(hex('09 00 00 00'))]);
    expect(wire.toString('hex')).to.equal(hex(EVENT_THEN_LOG_QUERY).toString('hex'));
  });

  it('lays out the device Initialization as 89 00 | 01 00 85 00 | 01 00 00 00 | 128 hex | 00 | crc', () => {
    const data = Buffer.concat([hex('01 00 00 00'), Buffer.from(DEVICE_ID, 'ascii'), hex('00')]);
    const frame = encodeFrame(encodeMessage(1, data));
    expect(frame.subarray(0, -1).includes(0)).to.equal(false);
    expect(frame[frame.length - 1]).to.equal(0);

    const raw = cobsDecode(frame.subarray(0, -1));
    expect(raw.subarray(0, 10).toString('hex')).to.equal(hex('89 00 01 00 85 00 01 00 00 00').toString('hex'));
    expect(raw.subarray(10, 138).toString('ascii')).to.equal(DEVICE_ID);
    expect(raw[138]).to.equal(0);
    expect(raw.length).to.equal(2 + 137 + 2);
    // 0x89 = 137 = 4 (type, dataLength) + 0x85 (133 = u32 version + 128 hex chars + NUL).
    expect(raw.readUInt16LE(0)).to.equal(137).and.to.equal(4 + raw.readUInt16LE(4));
    expect(raw.readUInt16LE(4)).to.equal(0x85).and.to.equal(4 + 128 + 1);
    // The spec's CRC (be 03) belongs to its elided real ID; ours must cover all bytes before it.
    expect(raw.readUInt16LE(139)).to.equal(crc16Xmodem(raw.subarray(0, 139)));
  });

  it('decodes a device Initialization frame built from the spec layout', () => {
    const raw = Buffer.concat([hex('89 00 01 00 85 00 01 00 00 00'), Buffer.from(DEVICE_ID, 'ascii'), hex('00 00 00')]);
    raw.writeUInt16LE(crc16Xmodem(raw.subarray(0, 139)), 139);
    const [message] = new FrameDecoder().push(rawFrame(raw));
    expect(message!.type).to.equal(1);
    expect(message!.data.length).to.equal(0x85);
    expect(message!.data.readUInt32LE(0)).to.equal(1);
    expect(message!.data.toString('ascii', 4, 132)).to.equal(DEVICE_ID);
    expect(message!.message.length).to.equal(0x89);
  });

  it('frames the device ImageRequestCapability and ImageRequestByFilename messages as captured', () => {
    const capability = hex('04 00 08 00 00 00 00 00 ff ff ff ff');
    const byName = Buffer.concat([hex('07 00 1d 00 00 00 00 00 ff ff ff ff'), Buffer.from('recovery-runtime.bin\0', 'ascii')]);
    for (const message of [capability, byName]) {
      expect(decodeFrame(encodeFrame(message)).equals(message)).to.equal(true);
      const envelope = decodeMessage(message);
      expect(envelope.data.length).to.equal(message.readUInt16LE(2));
    }
    expect(decodeMessage(byName).data.length).to.equal(0x1d);
  });
});

describe('recovery frames: encoding and decoding single frames', () => {
  it('round-trips messages of many sizes, including data full of zeros', () => {
    for (const length of [0, 1, 2, 250, 251, 252, 253, 254, 255, 600, 4000]) {
      const message = encodeMessage(0x0a, length % 2 ? patternBytes(length) : Buffer.alloc(length));
      expect(decodeFrame(encodeFrame(message)).equals(message), `data length ${length}`).to.equal(true);
    }
  });

  it('refuses to build a message or frame longer than a u16 can say', () => {
    expect(() => encodeMessage(1, Buffer.alloc(0x10000 - 4))).to.throw(LinkUsageError);
    expect(() => encodeFrame(Buffer.alloc(0x10000))).to.throw(LinkUsageError);
    expect(() => encodeMessage(0x10000)).to.throw(LinkUsageError);
  });

  it('reports a corrupted byte as a CRC mismatch', () => {
    const frame = hex(SIMPLE_QUERY_ACK_FRAME);
    frame[4] ^= 0x01;
    expect(frameError(frame).reason).to.equal('crc-mismatch');
  });

  it('reports a length field that disagrees with the bytes (with a good CRC) as a length mismatch', () => {
    const raw = hex('07 00 a3 00 01 00 00 00 00');
    raw.writeUInt16LE(crc16Xmodem(raw.subarray(0, 7)), 7);
    expect(frameError(rawFrame(raw)).reason).to.equal('length-mismatch');
  });

  it('reports a dataLength that disagrees with the message as a data-length mismatch', () => {
    const raw = hex('05 00 a3 00 02 00 00 00 00');
    raw.writeUInt16LE(crc16Xmodem(raw.subarray(0, 7)), 7);
    const error = (() => {
      try {
        decodeFrameMessage(rawFrame(raw));
      } catch (caught) {
        return caught as FrameError;
      }
      return undefined;
    })();
    expect(error?.reason).to.equal('data-length-mismatch');
  });

  it('reports too few bytes and bad COBS', () => {
    expect(frameError(rawFrame(hex('00 00 00')).subarray()).reason).to.equal('too-short');
    expect(frameError(hex('05 11 22 00')).reason).to.equal('cobs');
  });
});

describe('recovery frames: the streaming FrameDecoder', () => {
  const stream = Buffer.concat([
    hex(INITIALIZATION_ACK_FRAME),
    hex(EVENT_THEN_LOG_QUERY),
    hex(SIMPLE_QUERY_ACK_FRAME),
    encodeFrame(encodeMessage(0x0a, patternBytes(300))),
  ]);
  const expected = ['a0000000', '0b00010001', '09000000', 'a300010000', encodeMessage(0x0a, patternBytes(300)).toString('hex')];

  it('decodes the same messages however the stream is split in two', () => {
    for (let split = 0; split <= stream.length; split += 1) {
      const decoder = new FrameDecoder();
      const messages = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expect(messages.map((m) => m.message.toString('hex')), `split at ${split}`).to.deep.equal(expected);
      expect(decoder.framesDropped).to.equal(0);
      expect(decoder.pendingBytes).to.equal(0);
    }
  });

  it('decodes the same messages fed one byte at a time, emitting each as it completes', () => {
    const decoder = new FrameDecoder();
    const emitted: DecodedMessage[] = [];
    decoder.on('message', (message) => emitted.push(message));
    const returned: DecodedMessage[] = [];
    for (const byte of stream) returned.push(...decoder.push(Buffer.of(byte)));
    expect(returned.map((m) => m.message.toString('hex'))).to.deep.equal(expected);
    expect(emitted).to.deep.equal(returned);
    expect(decoder.messagesDecoded).to.equal(expected.length);
  });

  it('drops a frame with a bad CRC, reports why, and still decodes the next good frame', () => {
    const bad = hex(INITIALIZATION_ACK_FRAME);
    bad[7] ^= 0xff; // inside the CRC
    const decoder = new FrameDecoder();
    const drops: FrameDrop[] = [];
    decoder.on('dropped', (drop) => drops.push(drop));
    const messages = decoder.push(Buffer.concat([bad, hex(SIMPLE_QUERY_ACK_FRAME)]));
    expect(messages.map((m) => m.message.toString('hex'))).to.deep.equal(['a300010000']);
    expect(drops).to.have.length(1);
    expect(drops[0]).to.include({ reason: 'crc-mismatch', bytes: 9 });
    expect(decoder.framesDropped).to.equal(1);
    expect(decoder.dropsByReason['crc-mismatch']).to.equal(1);
  });

  it('drops frames with bad COBS, bad lengths and line noise without throwing, counting each reason', () => {
    const badLength = hex('07 00 a3 00 01 00 00 00 00');
    badLength.writeUInt16LE(crc16Xmodem(badLength.subarray(0, 7)), 7);
    const decoder = new FrameDecoder();
    const messages = decoder.push(
      Buffer.concat([
        hex('05 11 22 00'), // COBS block runs past the end
        rawFrame(badLength),
        hex('01 01 00'), // decodes to two bytes: too short
        hex('00 00'), // idle delimiters: skipped, not drops
        hex(SIMPLE_QUERY_ACK_FRAME),
      ]),
    );
    expect(messages).to.have.length(1);
    expect(decoder.dropsByReason).to.include({ cobs: 1, 'length-mismatch': 1, 'too-short': 1 });
    expect(decoder.framesDropped).to.equal(3);
  });

  it('keeps memory bounded when garbage never brings a delimiter, then resynchronises', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 });
    const drops: FrameDrop[] = [];
    decoder.on('dropped', (drop) => drops.push(drop));
    const garbage = Buffer.alloc(1000, 0x41);
    for (let i = 0; i < 50; i += 1) {
      expect(decoder.push(garbage)).to.deep.equal([]);
      expect(decoder.pendingBytes).to.be.at.most(64);
    }
    expect(drops).to.have.length(1);
    expect(drops[0]!.reason).to.equal('oversize');
    // The rest of the garbage frame ends at the next 0x00; the frame after it decodes.
    const messages = decoder.push(Buffer.concat([garbage, hex('00'), hex(SIMPLE_QUERY_ACK_FRAME)]));
    expect(messages.map((m) => m.message.toString('hex'))).to.deep.equal(['a300010000']);
    expect(decoder.framesDropped).to.equal(1);
  });

  it('does not keep a reference to the caller’s chunk', () => {
    const decoder = new FrameDecoder();
    const chunk = hex(SIMPLE_QUERY_ACK_FRAME).subarray(0, 5);
    decoder.push(chunk);
    chunk.fill(0xee);
    expect(decoder.push(hex(SIMPLE_QUERY_ACK_FRAME).subarray(5))[0]!.message.toString('hex')).to.equal('a300010000');
  });
});
