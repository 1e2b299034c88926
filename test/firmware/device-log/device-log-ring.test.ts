import { expect } from 'chai';
import { decodeDeviceLog } from '../../../src/firmware/device-log/device-log-decoder.js';
import { encodeLogMessage } from '../../../src/firmware/device-log/device-log-entry.js';
import { DeviceLogRing } from '../../../src/firmware/device-log/device-log-ring.js';
import { logMessageByName } from '../../../src/firmware/device-log/log-manifests.js';

/** Banks fill in order, wrap, erase the oldest and keep counters so the parser reads oldest first. */
const STATUS = logMessageByName('appman', 'AppState');

/** A 16-byte entry (12 header + one integer) carrying `n`. */
function entry(n: number): Buffer {
  return encodeLogMessage(STATUS, [n], { priority: 4, timestampMs: n });
}

const numbersOf = (bytes: Buffer) => decodeDeviceLog(bytes).entries.map((e) => e.params[0]!.value);

describe('device log: a ring of banks', () => {
  it('fills a bank with 255 16-byte entries (4080 bytes) and starts the next one with the 256th', () => {
    const ring = DeviceLogRing.erased(3);
    for (let n = 0; n < 255; n++) expect(ring.append(entry(n))).to.deep.equal([0]);
    expect(ring.counter(0)).to.equal(0);
    expect(ring.counter(1)).to.equal(0xffff);
    expect(ring.append(entry(255))).to.deep.equal([1]);
    expect(ring.counter(1)).to.equal(1);
    expect(ring.bank(0).readUInt16LE(4080), 'the unused tail stays erased').to.equal(0xffff);
    expect(numbersOf(ring.bytes)).to.deep.equal([...Array(256).keys()]);
  });

  it('wraps to bank 0, erasing its old entries, and the decoder reads the oldest bank first', () => {
    const ring = DeviceLogRing.erased(3);
    const total = 255 * 3 + 10;
    for (let n = 0; n < total; n++) ring.append(entry(n));
    expect([ring.counter(0), ring.counter(1), ring.counter(2)]).to.deep.equal([3, 1, 2]);
    const log = decodeDeviceLog(ring.bytes);
    expect(log.startBank).to.equal(1);
    expect(log.entries.map((e) => e.params[0]!.value)).to.deep.equal([...Array(255 * 2 + 10).keys()].map((i) => i + 255));
    expect(log.entries[0]!.offset).to.equal(4096);
  });

  it('an entry never crosses the footer: one that does not fit starts the next bank', () => {
    const ring = DeviceLogRing.erased(2);
    const long = encodeLogMessage(logMessageByName('gatewayd', 'Request'), [1, 'x'.repeat(200)], { priority: 6, timestampMs: 0 });
    let count = 0;
    while (ring.counter(1) === 0xffff) {
      ring.append(long);
      count++;
    }
    const perBank = Math.floor(4092 / long.length);
    expect(count).to.equal(perBank + 1);
    expect(decodeDeviceLog(ring.bytes).entries.map((e) => e.bank)).to.deep.equal([...Array(perBank).fill(0), 1]);
  });

  it('renumbers the live banks from 0 before a counter would reach 0xFFFF', () => {
    const ring = DeviceLogRing.erased(3);
    for (let n = 0; n < 255 * 2; n++) ring.append(entry(n));
    // As if the ring had wrapped many times: counters just below the limit.
    ring.bytes.writeUInt16LE(0xfffd, 4092);
    ring.bytes.writeUInt16LE(0xfffe, 4096 + 4092);
    const resumed = DeviceLogRing.resume(ring.bytes);
    const changed = resumed.append(entry(9999));
    expect(changed.sort()).to.deep.equal([0, 1, 2]);
    expect([resumed.counter(0), resumed.counter(1), resumed.counter(2)]).to.deep.equal([0, 1, 2]);
    expect(numbersOf(resumed.bytes)).to.deep.equal([...Array(255 * 2).keys(), 9999]);
  });

  it('resumes a kept log after its last entry', () => {
    const ring = DeviceLogRing.erased(2);
    for (let n = 0; n < 5; n++) ring.append(entry(n));
    const resumed = DeviceLogRing.resume(Buffer.from(ring.bytes));
    resumed.append(entry(5));
    expect(numbersOf(resumed.bytes)).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('a single bank is erased and started again when it fills', () => {
    const ring = DeviceLogRing.erased(1);
    for (let n = 0; n < 256; n++) ring.append(entry(n));
    expect(ring.counter(0)).to.equal(1);
    expect(numbersOf(ring.bytes)).to.deep.equal([255]);
  });

  it('refuses a kept log that is not whole banks, naming the offset', () => {
    expect(() => DeviceLogRing.resume(Buffer.alloc(5000, 0xff))).to.throw(/byte offset 4096/);
  });
});
