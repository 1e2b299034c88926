import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { decodeDeviceLog } from '../../../src/firmware/device-log/device-log-decoder.js';
import { encodeLogMessage } from '../../../src/firmware/device-log/device-log-entry.js';
import { DeviceLogRing } from '../../../src/firmware/device-log/device-log-ring.js';
import { logMessage } from '../../../src/firmware/device-log/log-manifests.js';

/**
 * The worked example of ../shared/spec/device-log-format.md section 8, which was
 * checked byte for byte against Microsoft's parse-devicelog.py: written with
 * the project's encoder and ring it must be those bytes; decoded it must print
 * the parser's lines.
 */
const HEX_DUMP = `
0c 00 00 04 06 00 01 00 dc 05 00 00 10 00 00 02
06 00 10 00 cb 08 00 00 0f 00 70 00 1e 00 00 06
06 00 99 00 fc 08 00 00 01 00 00 00 2f 75 70 64
61 74 65 2f 73 74 61 67 65 00 1c 00 00 04 10 00
10 00 e3 08 00 00 16 89 d8 b2 c8 35 2e 27 27 ad
e8 94 d6 d1 5f a9 14 00 00 04 02 00 72 00 48 ee
00 00 80 51 01 00 c0 a8 01 17`;

function exampleFile(): Buffer {
  const file = Buffer.alloc(4096, 0xff);
  Buffer.from(HEX_DUMP.replace(/\s+/g, ''), 'hex').copy(file, 0);
  file.writeUInt16LE(0, 4092);
  return file;
}

const EXPECTED_LINES = [
  '[    1.500000] Info gatewayd(1): Starting component sideload ',
  "[    2.251000] Error gatewayd(16): CommonError (error: {'code': 7340047, 'name': 'ImageUpdateError::VerificationFailed', 'message': 'Verification of the image failed.', '_is_untranslated': False})",
  '[    2.300000] Trace gatewayd(153): Request (method: 1, requestPath: /update/stage)',
  '[    2.275000] Info appman_apps(16): Starting app... (appId: b2d88916-35c8-272e-27ad-e894d6d15fa9)',
  '[   61.000000] Info networkd(114): Acquired DHCP lease (duration: 86400, address: 192.168.1.23)',
];

describe('device log: the worked example of device-log-format.md section 8', () => {
  it('the spec\'s hex dump is the file whose SHA-256 the spec gives', () => {
    expect(createHash('sha256').update(exampleFile()).digest('hex')).to.equal('8654132bf2b1dafc131c730bc06ff24947f1cf48973d1ab6c4f2f5cffe564824');
  });

  it('encodes the five entries into exactly those 4096 bytes', () => {
    const ring = DeviceLogRing.erased(1);
    const write = (category: number, id: number, priority: number, timestampMs: number, args: Array<number | string>) =>
      ring.append(encodeLogMessage(logMessage(category, id)!, args, { priority, timestampMs }));
    write(6, 1, 4, 1500, []);
    write(6, 16, 2, 2251, [0x0070000f]);
    write(6, 153, 6, 2300, [1, '/update/stage']);
    write(16, 16, 4, 2275, ['1689d8b2-c835-2e27-27ad-e894d6d15fa9']);
    write(2, 114, 4, 61000, [86400, '192.168.1.23']);
    expect(ring.bytes.toString('hex')).to.equal(exampleFile().toString('hex'));
  });

  it('decodes them into the lines the parser prints, in physical order, with the GUID as the parser shows it', () => {
    const log = decodeDeviceLog(exampleFile());
    expect(log.entries.map((e) => e.line)).to.deep.equal(EXPECTED_LINES);
    expect(log.problems).to.deep.equal([]);
    const [e1, e2, e3, e4, e5] = log.entries;
    expect(e1).to.include({ offset: 0, length: 12, priorityName: 'Info', categoryName: 'gatewayd', messageName: 'StartingSideload', timestampMs: 1500 });
    expect(e2!.params[0]).to.deep.include({ name: 'error', type: 'commonError', value: 7340047 });
    expect(e2!.params[0]!.error).to.deep.equal({ code: 7340047, name: 'ImageUpdateError::VerificationFailed', message: 'Verification of the image failed.', untranslated: false });
    expect(e3!.params.map((p) => p.value)).to.deep.equal([1, '/update/stage']);
    expect(e4).to.include({ offset: 0x3a, categoryName: 'appman_apps', messageName: 'StartingApp' });
    expect(e4!.params[0]).to.deep.include({ value: 'b2d88916-35c8-272e-27ad-e894d6d15fa9', guid: '1689d8b2-c835-2e27-27ad-e894d6d15fa9' });
    expect(e5!.params.map((p) => p.value)).to.deep.equal([86400, '192.168.1.23']);
  });

  it('with the parser byte order, a GUID is printed in its canonical spelling', () => {
    const ring = DeviceLogRing.erased(1);
    ring.append(encodeLogMessage(logMessage(16, 16)!, ['1689d8b2-c835-2e27-27ad-e894d6d15fa9'], { priority: 4, timestampMs: 2275, guidOrder: 'parser' }));
    expect(decodeDeviceLog(ring.bytes).entries[0]!.params[0]).to.deep.include({ value: '1689d8b2-c835-2e27-27ad-e894d6d15fa9' });
  });

  it('names error codes as error_code.py does: success, unlisted id, errno, unknown category', () => {
    const ring = DeviceLogRing.erased(1);
    for (const code of [0, (39 << 20) | 999, 13, 60 << 20]) ring.append(encodeLogMessage(logMessage(6, 16)!, [code], { priority: 2, timestampMs: 0 }));
    expect(decodeDeviceLog(ring.bytes).entries.map((e) => e.params[0]!.text)).to.deep.equal([
      "error: {'code': 0, 'name': 'CommonError::Success', 'message': 'Success', '_is_untranslated': False}",
      "error: {'code': 40895463, 'name': 'RecoveryError::999', 'message': 'RecoveryError error code: 999', '_is_untranslated': False}",
      "error: {'code': 13, 'name': 'LinuxError::13', 'message': 'LinuxError error code: 13', '_is_untranslated': False}",
      "error: {'code': 62914560, 'name': 'UnknownError', 'message': '<Error Translation failed>', '_is_untranslated': True}",
    ]);
  });
});
