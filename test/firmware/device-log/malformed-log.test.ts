import { expect } from 'chai';
import { decodeDeviceLog } from '../../../src/firmware/device-log/device-log-decoder.js';
import { encodeLogEntry, encodeLogMessage } from '../../../src/firmware/device-log/device-log-entry.js';
import { DeviceLogRing } from '../../../src/firmware/device-log/device-log-ring.js';
import { logMessageByName } from '../../../src/firmware/device-log/log-manifests.js';
import { InputError } from '../../../src/util/failure.js';

/** Malformed logs are refused with the byte offset (or reported), never a crash or a loop. */
function logWith(...entries: Buffer[]): Buffer {
  const ring = DeviceLogRing.erased(2);
  for (const e of entries) ring.append(e);
  return Buffer.from(ring.bytes);
}

const request = (path: string) => encodeLogMessage(logMessageByName('gatewayd', 'Request'), [1, path], { priority: 6, timestampMs: 5 });
const sideload = () => encodeLogMessage(logMessageByName('gatewayd', 'StartingSideload'), [], { priority: 4, timestampMs: 1 });

function refusal(bytes: Buffer): InputError {
  try {
    decodeDeviceLog(bytes);
  } catch (error) {
    expect(error).to.be.instanceOf(InputError);
    return error as InputError;
  }
  throw new Error('the decoder accepted a malformed log');
}

describe('device log: malformed input', () => {
  it('a truncated bank: refused naming the offset where the cut bank starts', () => {
    const bytes = logWith(sideload()).subarray(0, 4096 + 1000);
    const error = refusal(bytes);
    expect(error.message).to.match(/^byte offset 4096: .*cut short/);
    expect(error.details).to.deep.include({ offset: 4096 });
    expect(refusal(Buffer.alloc(0)).message).to.match(/^byte offset 0/);
  });

  it('an entry length of 0 (the parser loops forever) or below the header: refused at that entry', () => {
    for (const length of [0, 11]) {
      const bytes = logWith(sideload(), sideload());
      bytes.writeUInt16LE(length, 12);
      expect(refusal(bytes).message).to.match(new RegExp(`^byte offset 12: entry length ${length} is below`));
    }
  });

  it('an entry length that reaches into the footer: refused', () => {
    const bytes = logWith(sideload());
    bytes.writeUInt16LE(4093, 0);
    expect(refusal(bytes).message).to.match(/^byte offset 0: entry length 4093 .* footer/);
  });

  it('a length too small for the parameters: refused at the parameter that overruns', () => {
    const bytes = logWith(request('/update/stage'));
    bytes.writeUInt16LE(16, 0);
    expect(refusal(bytes).message).to.match(/^byte offset 16: parameter "requestPath" \(string, no NUL before it\) runs past the entry's end at 16/);
  });

  it('a string that is not UTF-8, and a priority above 6: refused with their offsets', () => {
    const bad = request('/ab');
    bad[16] = 0xff;
    expect(refusal(logWith(sideload(), bad)).message).to.match(/^byte offset 28: string parameter "requestPath" is not valid UTF-8/);
    const loud = sideload();
    loud[3] = 7;
    expect(refusal(logWith(sideload(), loud)).message).to.match(/^byte offset 15: entry priority 7/);
  });

  it('no started bank: refused', () => {
    expect(refusal(Buffer.alloc(8192, 0xff)).message).to.match(/never started/);
  });

  it('unknown manifest ids: decoded as the parser names them and reported with their offsets', () => {
    const unknownMessage = encodeLogEntry({ priority: 4, categoryId: 6, messageId: 9999, timestampMs: 2000, params: Buffer.of(1, 2, 0xab) });
    const unknownCategory = encodeLogEntry({ priority: 3, categoryId: 1, messageId: 5, timestampMs: 3000, params: Buffer.of(7) });
    const applaunch = encodeLogEntry({ priority: 4, categoryId: 11, messageId: 1, timestampMs: 0, params: Buffer.alloc(0) });
    const log = decodeDeviceLog(logWith(sideload(), unknownMessage, unknownCategory, applaunch));
    expect(log.entries.map((e) => e.line)).to.deep.equal([
      '[    0.001000] Info gatewayd(1): Starting component sideload ',
      '[    2.000000] Info gatewayd(9999): Unknown message ID 9999 (Params: 0x1 0x2 0xab )',
      '[    3.000000] Warning Unknown category id 1(5): Unknown message ID 5 ',
      '[    0.000000] Info applaunch(1): Unknown message ID 1 ',
    ]);
    expect(log.problems).to.deep.equal([
      { offset: 12, message: 'gatewayd has no message id 9999' },
      { offset: 27, message: 'unknown log category id 1 (message 5)' },
      { offset: 40, message: "applaunch has no message id 1; Microsoft's parser stops on any entry of category 11 (applaunch)" },
    ]);
  });

  it('random damage never throws anything but an InputError', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const good = logWith(sideload(), request('/update/stage'), request('/app/status'));
    for (let round = 0; round < 300; round++) {
      const bytes = Buffer.from(good);
      for (let flips = 0; flips < 4; flips++) bytes[Math.floor(random() * 80)] = Math.floor(random() * 256);
      try {
        decodeDeviceLog(bytes);
      } catch (error) {
        expect(error, (error as Error).stack).to.be.instanceOf(InputError);
        expect((error as Error).message).to.match(/^byte offset \d+: /);
      }
    }
  });
});
