import { expect } from 'chai';
import { cobsDecode, cobsEncode } from '../../src/link/cobs.js';
import { MalformedDataError } from '../../src/link/link-errors.js';
import { hex, patternBytes } from './bytes.js';

function decodeError(encoded: Buffer): MalformedDataError {
  try {
    cobsDecode(encoded);
  } catch (error) {
    expect(error).to.be.instanceOf(MalformedDataError);
    return error as MalformedDataError;
  }
  expect.fail(`decoding ${encoded.toString('hex')} should have failed`);
}

describe('COBS', () => {
  const specVectors: [string, string][] = [
    // decoded (length | message | crc) -> encoded (without the 0x00 delimiter), from recovery-protocol.md
    ['04 00 a0 00 00 00 d7 ec', '02 04 02 a0 01 01 03 d7 ec'],
    ['05 00 0b 00 01 00 01 49 b2', '02 05 02 0b 02 01 04 01 49 b2'],
    ['04 00 09 00 00 00 d6 f5', '02 04 02 09 01 01 03 d6 f5'],
    ['05 00 a3 00 01 00 00 21 8a', '02 05 02 a3 02 01 01 03 21 8a'],
  ];

  for (const [decoded, encoded] of specVectors) {
    it(`encodes and decodes the spec vector ${encoded}`, () => {
      expect(cobsEncode(hex(decoded)).toString('hex')).to.equal(hex(encoded).toString('hex'));
      expect(cobsDecode(hex(encoded)).toString('hex')).to.equal(hex(decoded).toString('hex'));
    });
  }

  it('encodes the textbook examples', () => {
    expect(cobsEncode(hex('')).toString('hex')).to.equal('01');
    expect(cobsEncode(hex('00')).toString('hex')).to.equal('0101');
    expect(cobsEncode(hex('00 00')).toString('hex')).to.equal('010101');
    expect(cobsEncode(hex('11 22 00 33')).toString('hex')).to.equal('0311220233');
    expect(cobsEncode(hex('11 00 00 00')).toString('hex')).to.equal('0211010101');
  });

  it('never puts 0x00 in an encoding and round-trips runs around the 254-byte block limit', () => {
    const nonZero = (n: number) => Buffer.alloc(n, 0x5a);
    const cases = [
      nonZero(253),
      nonZero(254),
      nonZero(255),
      nonZero(508),
      nonZero(509),
      Buffer.concat([nonZero(254), hex('00')]),
      Buffer.concat([hex('00'), nonZero(254), hex('00 00'), nonZero(300)]),
      Buffer.alloc(600),
      patternBytes(5000),
    ];
    for (const data of cases) {
      const encoded = cobsEncode(data);
      expect(encoded.includes(0), `length ${data.length}`).to.equal(false);
      expect(encoded.length).to.be.at.most(data.length + Math.ceil(data.length / 254) + 1);
      expect(cobsDecode(encoded).equals(data), `length ${data.length}`).to.equal(true);
    }
  });

  it('decodes a full final block with or without the optional trailing 01', () => {
    const data = Buffer.alloc(254, 0x33);
    const minimal = Buffer.concat([hex('ff'), data]);
    expect(cobsDecode(minimal).equals(data)).to.equal(true);
    expect(cobsDecode(Buffer.concat([minimal, hex('01')])).equals(data)).to.equal(true);
  });

  it('rejects a 0x00 inside the frame, naming its offset', () => {
    const error = decodeError(hex('03 11 00 01'));
    expect(error.offset).to.equal(2);
    expect(error.failureClass).to.equal('device-fault');
    expect(error.message).to.match(/offset 2/);
    expect(decodeError(hex('02 11 00')).offset).to.equal(2);
  });

  it('rejects a code byte whose block runs past the end, naming the code byte', () => {
    const error = decodeError(hex('02 11 05 22 33'));
    expect(error.code).to.equal('cobs-block-overrun');
    expect(error.offset).to.equal(2);
  });

  it('rejects an empty frame', () => {
    expect(decodeError(Buffer.alloc(0)).code).to.equal('cobs-empty');
  });
});
