import { expect } from 'chai';
import { crc16Xmodem } from '../../src/link/crc16-xmodem.js';
import { hex, patternBytes } from './bytes.js';

describe('CRC-16/XMODEM', () => {
  it('gives the catalogue check value 0x31c3 for "123456789"', () => {
    expect(crc16Xmodem(Buffer.from('123456789', 'ascii'))).to.equal(0x31c3);
  });

  it('is 0 for no bytes (init 0, no final xor)', () => {
    expect(crc16Xmodem(Buffer.alloc(0))).to.equal(0);
  });

  it('gives the CRC of the spec InitializationAck frame (d7 ec little-endian)', () => {
    expect(crc16Xmodem(hex('04 00 a0 00 00 00'))).to.equal(0xecd7);
  });

  it('continues from an earlier result, so data can be checksummed in pieces', () => {
    const data = patternBytes(1000);
    const whole = crc16Xmodem(data);
    for (const split of [0, 1, 127, 500, 999, 1000]) {
      expect(crc16Xmodem(data.subarray(split), crc16Xmodem(data.subarray(0, split)))).to.equal(whole);
    }
  });
});
