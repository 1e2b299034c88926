import { isDeepStrictEqual } from 'node:util';
import { ByteQueue } from '../../../src/link/byte-queue.js';
import { LinkClosedError, MalformedDataError } from '../../../src/link/link-errors.js';
import { decodeFrameMessage, encodeFrame, FrameDecoder } from '../../../src/link/recovery-frame.js';
import { readFrameMessage } from '../../../src/link/recovery-frame-reader.js';
import {
  decodeRecoveryMessage,
  encodeRecoveryMessage,
  IMAGE_REQUEST_ANY_LENGTH,
  RecoveryEventCode,
  type RecoveryMessage,
} from '../../../src/link/recovery-messages.js';
import { mutateBytes } from '../mutate.js';
import type { Random } from '../random.js';
import { InvariantViolation, type FuzzTarget } from '../target.js';

/**
 * The recovery link's framing and messages: each input is the bytes on the wire,
 * read three ways:
 *   - as one frame: decodeFrameMessage, then decodeRecoveryMessage;
 *   - as a stream split into chunks, by a FrameDecoder (default limit, and a small
 *     one so that 'oversize' is reached), each message then decoded;
 *   - by readFrameMessage from a ByteQueue holding the input, until the queue ends.
 * A single frame may be refused with MalformedDataError (FrameError); the stream
 * readers never throw for bad bytes (they count and drop), and only end with
 * LinkClosedError once the input is used up. A message that decodes must encode
 * and decode again to the same message.
 *
 * Half the inputs are mutated on the wire (most then fail the CRC); the other
 * half are mutated messages framed properly (good COBS and CRC), often with their
 * dataLength fixed up, so that the message decoders see the damage.
 */

const DEVICE_ID = '006fe629'.padEnd(121, '0123456789abcdef') + 'cd7bee8';

const MESSAGES: RecoveryMessage[] = [
  { kind: 'Unknown', data: Buffer.from('opaque') },
  { kind: 'Initialization', version: 1, deviceId: DEVICE_ID },
  { kind: 'StatusRequest' },
  { kind: 'BaudrateSwitchQuery' },
  { kind: 'ImageRequestCapability', offset: 0, maxLength: IMAGE_REQUEST_ANY_LENGTH },
  { kind: 'ImageRequestManifest', offset: 4096, maxLength: 8192 },
  { kind: 'ImageRequestRecoveryApp', offset: 0, maxLength: 100 },
  { kind: 'ImageRequestByFilename', offset: 0, maxLength: IMAGE_REQUEST_ANY_LENGTH, filename: 'recovery-runtime.bin' },
  { kind: 'ProgressUpdate', imagesRemaining: 3, imageCount: 9, bytesRemaining: 123456, totalBytes: 999999 },
  { kind: 'LogConfigQuery' },
  { kind: 'LogEntry', text: 'erasing flash \u00e9' },
  { kind: 'RecoveryEvent', event: RecoveryEventCode.RAEraseFlashComplete },
  { kind: 'RecoveryError', code: 2097153, text: 'bad image' },
  { kind: 'RecoveryComplete' },
  { kind: 'InitializationAck' },
  { kind: 'ServerReady' },
  { kind: 'StatusBusy' },
  { kind: 'SimpleQueryAck', value: 1 },
  { kind: 'ImageRequestAck', start: 0, sendLength: 4096, totalLength: 16384 },
  { kind: 'ImageRequestError' },
  { kind: 'AbortRecovery' },
];

function frameSeeds(): { messages: Buffer[]; wire: Buffer[] } {
  const messages = MESSAGES.map(encodeRecoveryMessage);
  const frames = messages.map(encodeFrame);
  const wire = [
    ...frames,
    // A session's worth of frames back to back, with a resynchronisation 0x00 and a long message.
    Buffer.concat([frames[11]!, frames[9]!, Buffer.of(0), frames[1]!, frames[14]!, frames[4]!, frames[18]!]),
    encodeFrame(encodeRecoveryMessage({ kind: 'LogEntry', text: 'x'.repeat(600) })),
    // The captured bytes of RecoveryEvent 1 then LogConfigQuery (recovery-protocol.md).
    Buffer.from('02 05 02 0b 02 01 04 01 49 b2 00 02 04 02 09 01 01 03 d6 f5 00'.replace(/ /g, ''), 'hex'),
  ];
  return { messages, wire };
}

const MESSAGE_DICTIONARY: Buffer[] = [
  Buffer.of(0x00, 0x00, 0x00, 0x00),
  Buffer.of(0xff, 0xff, 0xff, 0xff),
  Buffer.of(0xa4, 0x00),
  Buffer.of(0x0c, 0x00),
  Buffer.from('recovery-runtime.bin\0'),
  Buffer.from('\u00ff\u00fe', 'latin1'),
];

function generate(rng: Random, seeds: { messages: Buffer[]; wire: Buffer[] }): Buffer {
  if (rng.chance(0.5)) return mutateBytes(rng, rng.pick(seeds.wire), seeds.wire, { hot: [{ from: 0, to: 16 }, { from: -8, to: -1 }], maxLength: 70_000 });
  const frames: Buffer[] = [];
  for (let i = 0, n = rng.chance(0.7) ? 1 : rng.smallCount(6); i < n; i++) {
    let message = mutateBytes(rng, rng.pick(seeds.messages), seeds.messages, { hot: [{ from: 0, to: 8 }], dictionary: MESSAGE_DICTIONARY, maxLength: 0xffff });
    // Most of the time keep dataLength truthful, so the damage reaches the message decoder.
    if (message.length >= 4 && rng.chance(0.7)) message.writeUInt16LE(Math.min(0xffff, message.length - 4), 2);
    if (message.length > 0xffff) message = message.subarray(0, 0xffff);
    frames.push(encodeFrame(message));
  }
  return Buffer.concat(frames);
}

/** Chunk sizes for the stream readers, cycling: a byte at a time, odd sizes, whole kilobytes. */
const CHUNKS = [1, 7, 64, 2, 300, 3, 4096, 13];

function decodeChecked(envelope: { type: number; data: Buffer }): void {
  let message: RecoveryMessage;
  try {
    message = decodeRecoveryMessage(envelope);
  } catch (error) {
    if (error instanceof MalformedDataError) return;
    throw error;
  }
  let again: RecoveryMessage;
  try {
    const bytes = encodeRecoveryMessage(message);
    again = decodeRecoveryMessage({ type: bytes.readUInt16LE(0), data: bytes.subarray(4) });
  } catch (error) {
    throw new InvariantViolation(`a decoded ${message.kind} does not encode and decode again: ${(error as Error).message}`);
  }
  if (!isDeepStrictEqual(again, message)) throw new InvariantViolation(`a decoded ${message.kind} changes on encode + decode`);
}

function streamThroughDecoder(input: Buffer, maxFrameBytes: number | undefined): void {
  const decoder = new FrameDecoder(maxFrameBytes === undefined ? {} : { maxFrameBytes });
  let from = 0;
  for (let i = 0; from < input.length; i++) {
    const chunk = input.subarray(from, from + CHUNKS[i % CHUNKS.length]!);
    from += chunk.length;
    let messages;
    try {
      messages = decoder.push(chunk);
    } catch (error) {
      throw new InvariantViolation(`FrameDecoder.push threw instead of dropping the frame: ${String(error)}`);
    }
    for (const message of messages) decodeChecked(message);
  }
}

async function readAll(input: Buffer): Promise<void> {
  const queue = new ByteQueue({ name: 'fuzz' });
  queue.push(input);
  queue.end();
  const decoder = new FrameDecoder({ maxFrameBytes: 512 });
  for (;;) {
    let message;
    try {
      message = await readFrameMessage(queue, decoder, { timeoutMs: Number.POSITIVE_INFINITY });
    } catch (error) {
      if (error instanceof LinkClosedError) return;
      throw new InvariantViolation(`readFrameMessage threw something other than LinkClosedError at the end of input: ${String(error)}`);
    }
    decodeChecked(message);
  }
}

export async function readFrames(input: Buffer): Promise<void> {
  let refusal: unknown;
  try {
    decodeChecked(decodeFrameMessage(input));
  } catch (error) {
    if (!(error instanceof MalformedDataError)) throw error;
    refusal = error;
  }
  streamThroughDecoder(input, undefined);
  streamThroughDecoder(input, 48);
  await readAll(input);
  if (refusal !== undefined) throw refusal;
}

export const recoveryFramesTarget: FuzzTarget = {
  name: 'recovery-frames',
  async prepare() {
    const seeds = frameSeeds();
    return {
      seedCount: seeds.wire.length,
      generate: (rng) => generate(rng, seeds),
      run: readFrames,
      isRejection: (error) => error instanceof MalformedDataError && error.code.length > 0,
    };
  },
};
