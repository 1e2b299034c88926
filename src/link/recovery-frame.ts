import { EventEmitter } from 'node:events';
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc16Xmodem } from './crc16-xmodem.js';
import { LinkUsageError, MalformedDataError } from './link-errors.js';

/**
 * The recovery link's framing (recovery-protocol.md, stage 2):
 *   frame   = COBS( u16le length | message | u16le crc ) || 0x00
 *   crc     = CRC-16/XMODEM over (length | message)
 *   message = u16le type | u16le dataLength | data
 * This file knows the envelope only; what a type's data means lives in recovery-messages.ts.
 */

export const FRAME_DELIMITER = 0x00;
/** Bytes of a message before its data: u16le type, u16le dataLength. */
export const MESSAGE_HEADER_BYTES = 4;
/** Bytes a frame adds around a message before COBS: u16le length, u16le crc. */
const FRAME_OVERHEAD_BYTES = 4;
const MAX_U16 = 0xffff;
/** Longest encoded frame (without delimiter) a FrameDecoder buffers unless told otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 4096;

/** A message's type number and data, as carried in a frame. */
export interface MessageEnvelope {
  type: number;
  data: Buffer;
}

/** A message taken out of a frame: its envelope and its bytes exactly as they came. */
export interface DecodedMessage extends MessageEnvelope {
  message: Buffer;
}

/** Why a frame was thrown away. */
export type FrameDropReason =
  | 'cobs' // not valid COBS
  | 'too-short' // shorter than length + an empty message + crc
  | 'crc-mismatch' // the CRC does not match
  | 'length-mismatch' // the length field disagrees with the bytes present
  | 'data-length-mismatch' // the message's dataLength disagrees with the bytes present
  | 'oversize'; // no delimiter within the decoder's limit

export const FRAME_DROP_REASONS: readonly FrameDropReason[] = [
  'cobs',
  'too-short',
  'crc-mismatch',
  'length-mismatch',
  'data-length-mismatch',
  'oversize',
];

/** A frame that cannot be decoded; `reason` says which check failed. */
export class FrameError extends MalformedDataError {
  readonly reason: FrameDropReason;

  constructor(reason: FrameDropReason, message: string, offset: number, details: Record<string, unknown> = {}) {
    super(`frame-${reason}`, message, offset, { reason, ...details });
    this.reason = reason;
  }
}

/** `u16le type | u16le dataLength | data`. */
export function encodeMessage(type: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > MAX_U16) {
    throw new LinkUsageError('frame-bad-type', `message type ${type} is not a u16`);
  }
  if (data.length > MAX_U16 - MESSAGE_HEADER_BYTES) {
    throw new LinkUsageError('frame-too-long', `message data of ${data.length} bytes does not fit a frame`);
  }
  const message = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + data.length);
  message.writeUInt16LE(type, 0);
  message.writeUInt16LE(data.length, 2);
  message.set(data, MESSAGE_HEADER_BYTES);
  return message;
}

/** Splits a message into type and data, checking that dataLength matches the bytes present. */
export function decodeMessage(message: Uint8Array): MessageEnvelope {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (bytes.length < MESSAGE_HEADER_BYTES) {
    throw new FrameError('data-length-mismatch', `message of ${bytes.length} bytes has no complete header`, 0);
  }
  const dataLength = bytes.readUInt16LE(2);
  if (dataLength !== bytes.length - MESSAGE_HEADER_BYTES) {
    throw new FrameError(
      'data-length-mismatch',
      `message dataLength ${dataLength} but ${bytes.length - MESSAGE_HEADER_BYTES} data bytes present`,
      2,
      { dataLength },
    );
  }
  return { type: bytes.readUInt16LE(0), data: bytes.subarray(MESSAGE_HEADER_BYTES) };
}

/** Frames one message: the exact bytes to put on the wire, delimiter included. */
export function encodeFrame(message: Uint8Array): Buffer {
  if (message.length > MAX_U16) {
    throw new LinkUsageError('frame-too-long', `message of ${message.length} bytes does not fit a u16 length`);
  }
  const raw = Buffer.allocUnsafe(message.length + FRAME_OVERHEAD_BYTES);
  raw.writeUInt16LE(message.length, 0);
  raw.set(message, 2);
  raw.writeUInt16LE(crc16Xmodem(raw.subarray(0, 2 + message.length)), 2 + message.length);
  const encoded = cobsEncode(raw);
  const frame = Buffer.allocUnsafe(encoded.length + 1);
  encoded.copy(frame, 0);
  frame[encoded.length] = FRAME_DELIMITER;
  return frame;
}

/**
 * Decodes one frame given without its delimiter (a trailing delimiter is tolerated)
 * and returns the message inside. Throws FrameError; the checks run in the order
 * COBS, size, CRC, length field, so corruption is reported as a CRC mismatch.
 */
export function decodeFrame(frame: Uint8Array): Buffer {
  const encoded = frame.length > 0 && frame[frame.length - 1] === FRAME_DELIMITER ? frame.subarray(0, -1) : frame;
  let raw: Buffer;
  try {
    raw = cobsDecode(encoded);
  } catch (error) {
    if (error instanceof MalformedDataError) {
      throw new FrameError('cobs', `bad COBS: ${error.message}`, error.offset);
    }
    throw error;
  }
  if (raw.length < FRAME_OVERHEAD_BYTES + MESSAGE_HEADER_BYTES) {
    throw new FrameError('too-short', `decoded frame of ${raw.length} bytes is too short`, 0);
  }
  const crcAt = raw.length - 2;
  const expected = raw.readUInt16LE(crcAt);
  const actual = crc16Xmodem(raw.subarray(0, crcAt));
  if (expected !== actual) {
    throw new FrameError(
      'crc-mismatch',
      `frame CRC 0x${expected.toString(16).padStart(4, '0')} but the bytes give 0x${actual.toString(16).padStart(4, '0')}`,
      crcAt,
      { expected, actual },
    );
  }
  const length = raw.readUInt16LE(0);
  if (length !== raw.length - FRAME_OVERHEAD_BYTES) {
    throw new FrameError(
      'length-mismatch',
      `frame length field ${length} but ${raw.length - FRAME_OVERHEAD_BYTES} message bytes present`,
      0,
      { length },
    );
  }
  return raw.subarray(2, crcAt);
}

/** Decodes a whole frame down to its message envelope. */
export function decodeFrameMessage(frame: Uint8Array): DecodedMessage {
  const message = decodeFrame(frame);
  return { ...decodeMessage(message), message };
}

/** A frame the decoder threw away, and why. */
export interface FrameDrop {
  reason: FrameDropReason;
  detail: string;
  /** Encoded bytes discarded (for 'oversize': those seen when the limit was passed). */
  bytes: number;
}

export interface FrameDecoderOptions {
  /** Longest encoded frame, without delimiter, to buffer; longer runs are discarded up to the next 0x00. */
  maxFrameBytes?: number;
}

export interface FrameDecoderEvents {
  message: [DecodedMessage];
  dropped: [FrameDrop];
}

/**
 * Turns a byte stream into messages. Push chunks as they arrive, split anywhere; each
 * push returns (and emits as 'message') the messages completed by it. A bad frame is
 * never thrown: it is counted and emitted as 'dropped', and decoding goes on with
 * the next frame. Memory is bounded by maxFrameBytes whatever arrives.
 * A lone 0x00 (an empty frame) is a resynchronisation marker and is skipped silently.
 */
export class FrameDecoder extends EventEmitter<FrameDecoderEvents> {
  readonly maxFrameBytes: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Set once the limit is passed: bytes are thrown away until the next delimiter. */
  private discarding = false;
  private decodedCount = 0;
  private readonly drops: Record<FrameDropReason, number> = {
    cobs: 0,
    'too-short': 0,
    'crc-mismatch': 0,
    'length-mismatch': 0,
    'data-length-mismatch': 0,
    oversize: 0,
  };

  constructor(options: FrameDecoderOptions = {}) {
    super();
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 1) {
      throw new LinkUsageError('frame-bad-limit', `maxFrameBytes ${this.maxFrameBytes} must be a positive integer`);
    }
  }

  /** Messages decoded so far. */
  get messagesDecoded(): number {
    return this.decodedCount;
  }

  /** Frames dropped so far, all reasons together. */
  get framesDropped(): number {
    return FRAME_DROP_REASONS.reduce((sum, reason) => sum + this.drops[reason], 0);
  }

  /** Frames dropped so far, by reason. */
  get dropsByReason(): Readonly<Record<FrameDropReason, number>> {
    return { ...this.drops };
  }

  /** Bytes held while waiting for a delimiter. */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  /** Forgets any partial frame (for example when the line is reopened). */
  reset(): void {
    this.pending = [];
    this.pendingLength = 0;
    this.discarding = false;
  }

  push(chunk: Uint8Array): DecodedMessage[] {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const messages: DecodedMessage[] = [];
    let from = 0;
    while (from < bytes.length) {
      const delimiterAt = bytes.indexOf(FRAME_DELIMITER, from);
      if (delimiterAt === -1) {
        this.hold(bytes.subarray(from));
        break;
      }
      this.hold(bytes.subarray(from, delimiterAt));
      const message = this.completeFrame();
      if (message) messages.push(message);
      from = delimiterAt + 1;
    }
    return messages;
  }

  private hold(part: Buffer): void {
    if (part.length === 0 || this.discarding) return;
    if (this.pendingLength + part.length > this.maxFrameBytes) {
      const seen = this.pendingLength + part.length;
      this.pending = [];
      this.pendingLength = 0;
      this.discarding = true;
      this.drop({
        reason: 'oversize',
        detail: `no frame delimiter within ${this.maxFrameBytes} bytes; discarding up to the next 0x00`,
        bytes: seen,
      });
      return;
    }
    // Copy: the caller may reuse its chunk buffer after push returns.
    this.pending.push(Buffer.from(part));
    this.pendingLength += part.length;
  }

  private completeFrame(): DecodedMessage | undefined {
    if (this.discarding) {
      this.discarding = false;
      return undefined;
    }
    if (this.pendingLength === 0) return undefined;
    const frame = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    try {
      const decoded = decodeFrameMessage(frame);
      this.decodedCount += 1;
      this.emit('message', decoded);
      return decoded;
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.drop({ reason: error.reason, detail: error.message, bytes: frame.length });
      return undefined;
    }
  }

  private drop(drop: FrameDrop): void {
    this.drops[drop.reason] += 1;
    this.emit('dropped', drop);
  }
}
