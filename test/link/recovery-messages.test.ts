import { expect } from 'chai';
import { decodeMessage, encodeFrame, FrameDecoder } from '../../src/link/recovery-frame.js';
import {
  ClientMessageType,
  decodeRecoveryMessage,
  encodeRecoveryMessage,
  IMAGE_REQUEST_ANY_LENGTH,
  isClientMessageType,
  isServerMessageType,
  RecoveryEventCode,
  recoveryEventName,
  recoveryMessageKind,
  RecoveryMessageType,
  ServerMessageType,
  type RecoveryMessage,
} from '../../src/link/recovery-messages.js';
import { LinkUsageError, MalformedDataError } from '../../src/link/link-errors.js';
import { hex } from './bytes.js';

const DEVICE_ID = '006fe629'.padEnd(121, '0123456789abcdef') + 'cd7bee8';

function decodeBytes(message: Buffer): RecoveryMessage {
  return decodeRecoveryMessage(decodeMessage(message));
}

function malformed(message: Buffer): MalformedDataError {
  try {
    decodeBytes(message);
  } catch (error) {
    expect(error).to.be.instanceOf(MalformedDataError);
    return error as MalformedDataError;
  }
  expect.fail(`${message.toString('hex')} should not decode`);
}

describe('recovery messages: type numbers', () => {
  it('numbers the device messages 0..13 and the host messages 0xa0..0xa6 as the spec lists them', () => {
    expect(Object.values(ClientMessageType)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(ClientMessageType).to.include({ Initialization: 1, ImageRequestByFilename: 7, LogConfigQuery: 9, RecoveryEvent: 11 });
    expect(ServerMessageType).to.deep.equal({
      InitializationAck: 0xa0,
      ServerReady: 0xa1,
      StatusBusy: 0xa2,
      SimpleQueryAck: 0xa3,
      ImageRequestAck: 0xa4,
      ImageRequestError: 0xa5,
      AbortRecovery: 0xa6,
    });
    expect(recoveryMessageKind(0xa4)).to.equal('ImageRequestAck');
    expect(recoveryMessageKind(0x42)).to.equal(undefined);
    expect(isClientMessageType(13) && !isClientMessageType(14)).to.equal(true);
    expect(isServerMessageType(0xa6) && !isServerMessageType(0xa7)).to.equal(true);
  });

  it('names the recovery events, numbering the unpublished two 10 and 11', () => {
    expect(RecoveryEventCode).to.include({ BLInitializationComplete: 1, RABootComplete: 6, RAManifestReceived: 9 });
    expect(RecoveryEventCode.RAManifestProcessed).to.equal(10);
    expect(RecoveryEventCode.RARecoveryComplete).to.equal(11);
    expect(recoveryEventName(8)).to.equal('RAEraseFlashComplete');
    expect(recoveryEventName(4)).to.equal('event 4');
  });
});

describe('recovery messages: the spec vectors', () => {
  it('encodes and decodes the host InitializationAck (a0 00 00 00)', () => {
    expect(encodeRecoveryMessage({ kind: 'InitializationAck' }).toString('hex')).to.equal('a0000000');
    expect(decodeBytes(hex('a0 00 00 00'))).to.deep.equal({ kind: 'InitializationAck' });
  });

  it('encodes and decodes the device RecoveryEvent 1 and LogConfigQuery', () => {
    expect(encodeRecoveryMessage({ kind: 'RecoveryEvent', event: RecoveryEventCode.BLInitializationComplete }).toString('hex')).to.equal(
      '0b00010001',
    );
    expect(encodeRecoveryMessage({ kind: 'LogConfigQuery' }).toString('hex')).to.equal('09000000');
    const messages = new FrameDecoder()
      .push(hex('02 05 02 0b 02 01 04 01 49 b2 00 02 04 02 09 01 01 03 d6 f5 00'))
      .map(decodeRecoveryMessage);
    expect(messages).to.deep.equal([{ kind: 'RecoveryEvent', event: 1 }, { kind: 'LogConfigQuery' }]);
  });

  it('encodes and decodes the host SimpleQueryAck 0 (a3 00 01 00 00)', () => {
    expect(encodeRecoveryMessage({ kind: 'SimpleQueryAck', value: 0 }).toString('hex')).to.equal('a300010000');
    expect(decodeBytes(hex('a3 00 01 00 00'))).to.deep.equal({ kind: 'SimpleQueryAck', value: 0 });
  });

  it('encodes and decodes the device Initialization: version 1, 128 hex chars, NUL (dataLength 0x85)', () => {
    const message = encodeRecoveryMessage({ kind: 'Initialization', version: 1, deviceId: DEVICE_ID });
    expect(message.subarray(0, 8).toString('hex')).to.equal(hex('01 00 85 00 01 00 00 00').toString('hex'));
    expect(message.toString('ascii', 8, 136)).to.equal(DEVICE_ID);
    expect(message.length).to.equal(0x89);
    expect(message[136]).to.equal(0);
    expect(decodeBytes(message)).to.deep.equal({ kind: 'Initialization', version: 1, deviceId: DEVICE_ID });
  });

  it('encodes and decodes the device ImageRequestCapability (04 00 08 00 00 00 00 00 ff ff ff ff)', () => {
    const vector = hex('04 00 08 00 00 00 00 00 ff ff ff ff');
    const message: RecoveryMessage = { kind: 'ImageRequestCapability', offset: 0, maxLength: IMAGE_REQUEST_ANY_LENGTH };
    expect(encodeRecoveryMessage(message).toString('hex')).to.equal(vector.toString('hex'));
    expect(decodeBytes(vector)).to.deep.equal(message);
  });

  it('encodes and decodes the device ImageRequestByFilename for recovery-runtime.bin', () => {
    const vector = Buffer.concat([hex('07 00 1d 00 00 00 00 00 ff ff ff ff'), Buffer.from('recovery-runtime.bin', 'ascii'), hex('00')]);
    const message: RecoveryMessage = {
      kind: 'ImageRequestByFilename',
      offset: 0,
      maxLength: IMAGE_REQUEST_ANY_LENGTH,
      filename: 'recovery-runtime.bin',
    };
    expect(encodeRecoveryMessage(message).toString('hex')).to.equal(vector.toString('hex'));
    expect(decodeBytes(vector)).to.deep.equal(message);
  });

  it('encodes and decodes the host ImageRequestAck for a 392-byte capability image', () => {
    const vector = hex('a4 00 0c 00 00 00 00 00 88 01 00 00 88 01 00 00');
    const message: RecoveryMessage = { kind: 'ImageRequestAck', start: 0, sendLength: 392, totalLength: 392 };
    expect(encodeRecoveryMessage(message).toString('hex')).to.equal(vector.toString('hex'));
    expect(decodeBytes(vector)).to.deep.equal(message);
  });
});

describe('recovery messages: every kind', () => {
  const samples: RecoveryMessage[] = [
    { kind: 'Unknown', data: hex('de ad') },
    { kind: 'Initialization', version: 1, deviceId: DEVICE_ID.toUpperCase() },
    { kind: 'StatusRequest' },
    { kind: 'BaudrateSwitchQuery' },
    { kind: 'ImageRequestCapability', offset: 0, maxLength: IMAGE_REQUEST_ANY_LENGTH },
    { kind: 'ImageRequestManifest', offset: 4096, maxLength: 20480 },
    { kind: 'ImageRequestRecoveryApp', offset: 0, maxLength: 1 },
    { kind: 'ImageRequestByFilename', offset: 20480, maxLength: IMAGE_REQUEST_ANY_LENGTH, filename: '0123456789abcdef0123456789abcdef.bin' },
    { kind: 'ProgressUpdate', imagesRemaining: 16, imageCount: 17, bytesRemaining: 5_400_000, totalBytes: 5_426_860 },
    { kind: 'LogConfigQuery' },
    { kind: 'LogEntry', text: 'flash erase: 12 sectors ✓' },
    { kind: 'RecoveryEvent', event: RecoveryEventCode.RARecoveryComplete },
    { kind: 'RecoveryError', code: 7340047, text: 'Image not trusted by device' },
    { kind: 'RecoveryComplete' },
    { kind: 'InitializationAck' },
    { kind: 'ServerReady' },
    { kind: 'StatusBusy' },
    { kind: 'SimpleQueryAck', value: 1 },
    { kind: 'ImageRequestAck', start: 20480, sendLength: 6380, totalLength: 26860 },
    { kind: 'ImageRequestError' },
    { kind: 'AbortRecovery' },
  ];

  it('has a sample for every type number', () => {
    expect(new Set(samples.map((m) => m.kind))).to.deep.equal(new Set(Object.keys(RecoveryMessageType)));
  });

  for (const sample of samples) {
    it(`round-trips ${sample.kind} through a frame`, () => {
      const [decoded] = new FrameDecoder().push(encodeFrame(encodeRecoveryMessage(sample)));
      expect(decoded!.type).to.equal(RecoveryMessageType[sample.kind]);
      expect(decodeRecoveryMessage(decoded!)).to.deep.equal(sample);
    });
  }

  it('lays out RecoveryError as u32 code then UTF-8 text, and ignores a trailing NUL', () => {
    const message = encodeRecoveryMessage({ kind: 'RecoveryError', code: 0x01020304, text: 'bad' });
    expect(message.toString('hex')).to.equal('0c000700' + '04030201' + Buffer.from('bad').toString('hex'));
    const withNul = Buffer.concat([hex('0c 00 08 00 04 03 02 01'), Buffer.from('bad\0')]);
    expect(decodeBytes(withNul)).to.deep.equal({ kind: 'RecoveryError', code: 0x01020304, text: 'bad' });
  });
});

describe('recovery messages: malformed data', () => {
  it('refuses an unknown type number', () => {
    expect(malformed(hex('42 00 00 00')).code).to.equal('recovery-message-unknown-type');
  });

  it('refuses data of the wrong size for fixed layouts, naming the message', () => {
    const error = malformed(hex('a4 00 08 00 00 00 00 00 88 01 00 00'));
    expect(error.code).to.equal('recovery-message-malformed');
    expect(error.message).to.match(/ImageRequestAck: data must be 12 bytes, got 8/);
    expect(malformed(hex('0b 00 00 00')).message).to.match(/RecoveryEvent/);
    expect(malformed(hex('a0 00 01 00 00')).message).to.match(/InitializationAck/);
    expect(malformed(hex('0c 00 02 00 00 00')).message).to.match(/RecoveryError/);
  });

  it('refuses an Initialization with a non-hex device ID or no NUL, naming the offset in the message', () => {
    const good = encodeRecoveryMessage({ kind: 'Initialization', version: 1, deviceId: DEVICE_ID });
    const notHex = Buffer.from(good);
    notHex[8 + 5] = 0x47; // 'G'
    expect(malformed(notHex).offset).to.equal(13);
    const noNul = Buffer.from(good);
    noNul[136] = 0x30;
    expect(malformed(noNul).offset).to.equal(136);
  });

  it('refuses a filename without its NUL, with bytes after it, or empty', () => {
    const name = (text: string) => {
      const data = Buffer.concat([hex('00 00 00 00 ff ff ff ff'), Buffer.from(text, 'latin1')]);
      const header = Buffer.alloc(4);
      header.writeUInt16LE(7, 0);
      header.writeUInt16LE(data.length, 2);
      return Buffer.concat([header, data]);
    };
    expect(malformed(name('recovery-runtime.bin')).message).to.match(/not NUL-terminated/);
    expect(malformed(name('a.bin\0x')).message).to.match(/bytes follow/);
    expect(malformed(name('\0')).message).to.match(/at least 10 bytes|empty/);
    expect(malformed(name('a\x01b\0')).offset).to.equal(4 + 8 + 1);
  });

  it('refuses to encode values that do not fit their fields', () => {
    expect(() => encodeRecoveryMessage({ kind: 'RecoveryEvent', event: 256 })).to.throw(LinkUsageError);
    expect(() => encodeRecoveryMessage({ kind: 'ImageRequestAck', start: -1, sendLength: 0, totalLength: 0 })).to.throw(LinkUsageError);
    expect(() => encodeRecoveryMessage({ kind: 'Initialization', version: 1, deviceId: 'abc' })).to.throw(LinkUsageError);
    expect(() =>
      encodeRecoveryMessage({ kind: 'ImageRequestByFilename', offset: 0, maxLength: 0, filename: 'bad\0name' }),
    ).to.throw(LinkUsageError);
  });
});
