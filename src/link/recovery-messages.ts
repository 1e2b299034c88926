import { LinkUsageError, MalformedDataError } from './link-errors.js';
import { encodeMessage, MESSAGE_HEADER_BYTES, type MessageEnvelope } from './recovery-frame.js';

/**
 * The messages of the recovery control protocol (recovery-protocol.md, stage 2) and
 * the layout of each one's data. All integers are little-endian.
 *
 * Layouts the spec gives: Initialization, ImageRequestCapability,
 * ImageRequestByFilename, ProgressUpdate (inferred there), RecoveryEvent,
 * SimpleQueryAck, ImageRequestAck; and the messages with no data.
 * Layouts this project defines, because none is published (the emulator and the
 * host must simply agree):
 *   - ImageRequestManifest, ImageRequestRecoveryApp: like ImageRequestCapability,
 *     u32 offset | u32 maxLength.
 *   - LogEntry: UTF-8 text; trailing NULs are ignored when decoding.
 *   - RecoveryError: u32 code | UTF-8 text (no terminator; trailing NULs ignored).
 *     The code is from Microsoft's error catalog, category 39 RecoveryError
 *     (recovery-error-codes.ts); the text is for people.
 *   - ImageRequestError, AbortRecovery: no data.
 *   - Unknown (type 0): its data is carried opaque.
 */

/** Message types the device ("client") sends. */
export const ClientMessageType = {
  Unknown: 0,
  Initialization: 1,
  StatusRequest: 2,
  BaudrateSwitchQuery: 3,
  ImageRequestCapability: 4,
  ImageRequestManifest: 5,
  ImageRequestRecoveryApp: 6,
  ImageRequestByFilename: 7,
  ProgressUpdate: 8,
  LogConfigQuery: 9,
  LogEntry: 10,
  RecoveryEvent: 11,
  RecoveryError: 12,
  RecoveryComplete: 13,
} as const;

/** Message types the host ("server") sends. */
export const ServerMessageType = {
  InitializationAck: 0xa0,
  ServerReady: 0xa1,
  StatusBusy: 0xa2,
  SimpleQueryAck: 0xa3,
  ImageRequestAck: 0xa4,
  ImageRequestError: 0xa5,
  AbortRecovery: 0xa6,
} as const;

export type ClientMessageKind = keyof typeof ClientMessageType;
export type ServerMessageKind = keyof typeof ServerMessageType;
export type RecoveryMessageKind = ClientMessageKind | ServerMessageKind;

/** Every message type number by name. */
export const RecoveryMessageType: Readonly<Record<RecoveryMessageKind, number>> = Object.freeze({
  ...ClientMessageType,
  ...ServerMessageType,
});

/**
 * RecoveryEvent codes (the event's one data byte). 1..9 were seen on real boards.
 * RAManifestProcessed and RARecoveryComplete are not published: this project numbers
 * them 10 and 11, the next free codes after RAManifestReceived (9), in the order the
 * device sends them. 4 and 5 are unseen and left unnamed.
 */
export const RecoveryEventCode = {
  BLInitializationComplete: 1,
  BLCapabilityImageReceived: 2,
  BLCapabilityImageLoaded: 3,
  RABootComplete: 6,
  RAEraseFlashStarted: 7,
  RAEraseFlashComplete: 8,
  RAManifestReceived: 9,
  RAManifestProcessed: 10,
  RARecoveryComplete: 11,
} as const;

export type RecoveryEventName = keyof typeof RecoveryEventCode;

/** The version the device announces in Initialization. */
export const INITIALIZATION_VERSION = 1;
/** The device ID in Initialization: 64 bytes as ASCII hex. */
export const DEVICE_ID_HEX_LENGTH = 128;
/** maxLength of an image request meaning "as much as you have from the offset". */
export const IMAGE_REQUEST_ANY_LENGTH = 0xffffffff;

/** SimpleQueryAck answers. */
export const LOG_CONFIG_OFF = 0;
export const BAUDRATE_STAY_115200 = 0;
export const BAUDRATE_SWITCH_3M = 1;

export interface ImageRange {
  /** Where in the file the device wants the transfer to start. */
  offset: number;
  /** Most bytes it wants; IMAGE_REQUEST_ANY_LENGTH for no limit. */
  maxLength: number;
}

export type RecoveryMessage =
  // device to host
  | { kind: 'Unknown'; data: Buffer }
  | { kind: 'Initialization'; version: number; deviceId: string }
  | { kind: 'StatusRequest' }
  | { kind: 'BaudrateSwitchQuery' }
  | ({ kind: 'ImageRequestCapability' } & ImageRange)
  | ({ kind: 'ImageRequestManifest' } & ImageRange)
  | ({ kind: 'ImageRequestRecoveryApp' } & ImageRange)
  | ({ kind: 'ImageRequestByFilename'; filename: string } & ImageRange)
  | { kind: 'ProgressUpdate'; imagesRemaining: number; imageCount: number; bytesRemaining: number; totalBytes: number }
  | { kind: 'LogConfigQuery' }
  | { kind: 'LogEntry'; text: string }
  | { kind: 'RecoveryEvent'; event: number }
  | { kind: 'RecoveryError'; code: number; text: string }
  | { kind: 'RecoveryComplete' }
  // host to device
  | { kind: 'InitializationAck' }
  | { kind: 'ServerReady' }
  | { kind: 'StatusBusy' }
  | { kind: 'SimpleQueryAck'; value: number }
  | { kind: 'ImageRequestAck'; start: number; sendLength: number; totalLength: number }
  | { kind: 'ImageRequestError' }
  | { kind: 'AbortRecovery' };

/** The message of one kind, e.g. RecoveryMessageOf<'ImageRequestAck'>. */
export type RecoveryMessageOf<K extends RecoveryMessageKind> = Extract<RecoveryMessage, { kind: K }>;

/** The kinds whose messages carry no data: their type says it all. */
type DatalessKind = { [K in RecoveryMessageKind]: keyof RecoveryMessageOf<K> extends 'kind' ? K : never }[RecoveryMessageKind];

/** Each of them once; a record, so that the type checker sees any missing (encode and decode rely on it). */
const DATALESS_KINDS: Readonly<Record<DatalessKind, true>> = {
  StatusRequest: true,
  BaudrateSwitchQuery: true,
  LogConfigQuery: true,
  RecoveryComplete: true,
  InitializationAck: true,
  ServerReady: true,
  StatusBusy: true,
  ImageRequestError: true,
  AbortRecovery: true,
};

function isDataless(kind: RecoveryMessageKind): kind is DatalessKind {
  return Object.hasOwn(DATALESS_KINDS, kind);
}

const KIND_BY_TYPE: ReadonlyMap<number, RecoveryMessageKind> = new Map(
  (Object.entries(RecoveryMessageType) as [RecoveryMessageKind, number][]).map(([kind, type]) => [type, kind]),
);

/** The kind of a type number, or undefined for a number neither side defines. */
export function recoveryMessageKind(type: number): RecoveryMessageKind | undefined {
  return KIND_BY_TYPE.get(type);
}

/** True for the types the device sends (0..13). */
export function isClientMessageType(type: number): boolean {
  return type >= ClientMessageType.Unknown && type <= ClientMessageType.RecoveryComplete && Number.isInteger(type);
}

/** True for the types the host sends (0xa0..0xa6). */
export function isServerMessageType(type: number): boolean {
  return type >= ServerMessageType.InitializationAck && type <= ServerMessageType.AbortRecovery && Number.isInteger(type);
}

/** The name of an event code, or `event <n>` for one without a name. */
export function recoveryEventName(code: number): string {
  const entry = Object.entries(RecoveryEventCode).find(([, value]) => value === code);
  return entry ? entry[0] : `event ${code}`;
}

/** The data bytes of a message. Throws LinkUsageError for values that do not fit their fields. */
export function encodeMessageData(message: RecoveryMessage): Buffer {
  if (isDataless(message.kind)) return Buffer.alloc(0);
  switch (message.kind) {
    case 'Unknown':
      return Buffer.from(message.data);
    case 'Initialization': {
      if (!/^[0-9a-fA-F]*$/.test(message.deviceId) || message.deviceId.length !== DEVICE_ID_HEX_LENGTH) {
        throw new LinkUsageError(
          'recovery-message-invalid',
          `device ID must be ${DEVICE_ID_HEX_LENGTH} hex characters, got ${message.deviceId.length} characters`,
        );
      }
      const data = Buffer.alloc(4 + DEVICE_ID_HEX_LENGTH + 1);
      data.writeUInt32LE(u32(message.version, 'version'), 0);
      data.write(message.deviceId, 4, 'ascii');
      return data;
    }
    case 'ImageRequestCapability':
    case 'ImageRequestManifest':
    case 'ImageRequestRecoveryApp':
      return u32s([message.offset, 'offset'], [message.maxLength, 'maxLength']);
    case 'ImageRequestByFilename': {
      if (!/^[\x20-\x7e]+$/.test(message.filename)) {
        throw new LinkUsageError('recovery-message-invalid', `filename ${JSON.stringify(message.filename)} must be printable ASCII`);
      }
      return Buffer.concat([
        u32s([message.offset, 'offset'], [message.maxLength, 'maxLength']),
        Buffer.from(message.filename, 'ascii'),
        Buffer.of(0),
      ]);
    }
    case 'ProgressUpdate':
      return u32s(
        [message.imagesRemaining, 'imagesRemaining'],
        [message.imageCount, 'imageCount'],
        [message.bytesRemaining, 'bytesRemaining'],
        [message.totalBytes, 'totalBytes'],
      );
    case 'LogEntry':
      return Buffer.from(message.text, 'utf8');
    case 'RecoveryEvent':
      return Buffer.of(u8(message.event, 'event'));
    case 'RecoveryError':
      return Buffer.concat([u32s([message.code, 'code']), Buffer.from(message.text, 'utf8')]);
    case 'SimpleQueryAck':
      return Buffer.of(u8(message.value, 'value'));
    case 'ImageRequestAck':
      return u32s([message.start, 'start'], [message.sendLength, 'sendLength'], [message.totalLength, 'totalLength']);
  }
}

/** A whole message (type, dataLength, data), ready for encodeFrame. */
export function encodeRecoveryMessage(message: RecoveryMessage): Buffer {
  return encodeMessage(RecoveryMessageType[message.kind], encodeMessageData(message));
}

/**
 * The typed message in an envelope (as FrameDecoder and decodeMessage return it).
 * Throws MalformedDataError for an unknown type or data that does not fit the
 * type's layout; its offset counts from the start of the message (data starts at 4).
 */
export function decodeRecoveryMessage(envelope: MessageEnvelope): RecoveryMessage {
  const kind = recoveryMessageKind(envelope.type);
  if (kind === undefined) {
    throw new MalformedDataError(
      'recovery-message-unknown-type',
      `recovery message type 0x${envelope.type.toString(16)} is not defined`,
      0,
      { type: envelope.type },
    );
  }
  const data = envelope.data;
  const reader = new DataReader(kind, data);
  if (isDataless(kind)) {
    reader.expectLength(0);
    return { kind };
  }
  switch (kind) {
    case 'Unknown':
      return { kind, data: Buffer.from(data) };
    case 'Initialization': {
      reader.expectLength(4 + DEVICE_ID_HEX_LENGTH + 1);
      const version = reader.u32(0);
      const deviceId = data.toString('latin1', 4, 4 + DEVICE_ID_HEX_LENGTH);
      const bad = deviceId.search(/[^0-9a-fA-F]/);
      if (bad !== -1) reader.fail(`device ID has a non-hex character`, 4 + bad);
      if (data[4 + DEVICE_ID_HEX_LENGTH] !== 0) reader.fail('device ID is not NUL-terminated', 4 + DEVICE_ID_HEX_LENGTH);
      return { kind, version, deviceId };
    }
    case 'ImageRequestCapability':
    case 'ImageRequestManifest':
    case 'ImageRequestRecoveryApp':
      reader.expectLength(8);
      return { kind, offset: reader.u32(0), maxLength: reader.u32(4) };
    case 'ImageRequestByFilename': {
      reader.expectAtLeast(8 + 2);
      const nul = data.indexOf(0, 8);
      if (nul === -1) reader.fail('filename is not NUL-terminated', data.length);
      if (nul !== data.length - 1) reader.fail('bytes follow the filename terminator', nul + 1);
      const filename = data.toString('latin1', 8, nul);
      const bad = filename.search(/[^\x20-\x7e]/);
      if (bad !== -1) reader.fail('filename is not printable ASCII', 8 + bad);
      if (filename.length === 0) reader.fail('filename is empty', 8);
      return { kind, offset: reader.u32(0), maxLength: reader.u32(4), filename };
    }
    case 'ProgressUpdate':
      reader.expectLength(16);
      return {
        kind,
        imagesRemaining: reader.u32(0),
        imageCount: reader.u32(4),
        bytesRemaining: reader.u32(8),
        totalBytes: reader.u32(12),
      };
    case 'LogEntry':
      return { kind, text: withoutTrailingNuls(data).toString('utf8') };
    case 'RecoveryEvent':
      reader.expectLength(1);
      return { kind, event: data[0] };
    case 'RecoveryError':
      reader.expectAtLeast(4);
      return { kind, code: reader.u32(0), text: withoutTrailingNuls(data.subarray(4)).toString('utf8') };
    case 'SimpleQueryAck':
      reader.expectLength(1);
      return { kind, value: data[0] };
    case 'ImageRequestAck':
      reader.expectLength(12);
      return { kind, start: reader.u32(0), sendLength: reader.u32(4), totalLength: reader.u32(8) };
  }
}

/** Bounds-checked reads of one message's data, failing with errors that name the message. */
class DataReader {
  constructor(
    private readonly kind: RecoveryMessageKind,
    private readonly data: Buffer,
  ) {}

  /** Fails at `offset` into the data. */
  fail(problem: string, offset: number): never {
    throw new MalformedDataError('recovery-message-malformed', `${this.kind}: ${problem}`, MESSAGE_HEADER_BYTES + offset, {
      kind: this.kind,
    });
  }

  expectLength(length: number): void {
    if (this.data.length !== length) {
      this.fail(`data must be ${length} bytes, got ${this.data.length}`, Math.min(length, this.data.length));
    }
  }

  expectAtLeast(length: number): void {
    if (this.data.length < length) this.fail(`data must be at least ${length} bytes, got ${this.data.length}`, this.data.length);
  }

  u32(offset: number): number {
    return this.data.readUInt32LE(offset);
  }
}

function withoutTrailingNuls(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  return bytes.subarray(0, end);
}

function u8(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new LinkUsageError('recovery-message-invalid', `${field} ${value} is not a u8`);
  }
  return value;
}

function u32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new LinkUsageError('recovery-message-invalid', `${field} ${value} is not a u32`);
  }
  return value;
}

function u32s(...fields: [number, string][]): Buffer {
  const out = Buffer.alloc(4 * fields.length);
  fields.forEach(([value, field], index) => out.writeUInt32LE(u32(value, field), 4 * index));
  return out;
}
