import type { ByteChannel } from './byte-channel.js';
import { crc16Xmodem } from './crc16-xmodem.js';
import { Deadline } from './deadline.js';
import { LinkCancelledError, LinkTimeoutError, LinkUsageError } from './link-errors.js';
import {
  ACK,
  CAN,
  confirmPeerCancel,
  CRC_PROMPT,
  DEFAULT_XMODEM_MAX_RETRIES,
  EOT,
  NAK,
  readByteWithin,
  sendXmodemCancel,
  SOH,
  XMODEM_BLOCK_BYTES,
  XMODEM_PACKET_BYTES,
  xmodemBlockCount,
  XmodemError,
} from './xmodem.js';

export interface XmodemReceiveOptions {
  signal?: AbortSignal | undefined;
  /** Bad or missing packets in a row before giving up. Default 10. */
  maxRetries?: number | undefined;
  /**
   * The file's exact size, when known (recovery always knows it). The padding of
   * the last block is cut off, and any other block count is an error.
   */
  expectedLength?: number | undefined;
  /** Most bytes accepted when the length is not known. Default 64 MiB. */
  maxLength?: number | undefined;
  /** Time between 'C' prompts until the first packet. Default 1 s. */
  promptIntervalMs?: number | undefined;
  /** How long to keep prompting before giving up. Default 60 s. */
  startTimeoutMs?: number | undefined;
  /** How long to wait for the next packet once the transfer runs; a NAK follows. Default 10 s. */
  packetTimeoutMs?: number | undefined;
  /** How long the rest of a packet may take once its SOH has arrived. Default 1 s. */
  packetBodyTimeoutMs?: number | undefined;
  /** Called after each new block with the bytes received so far and the expected length. */
  onProgress?: ((receivedBytes: number, expectedLength: number | undefined) => void) | undefined;
}

export interface XmodemReceiveResult {
  /** The file: cut to expectedLength when given, else every block as sent (0x1a padding included). */
  data: Buffer;
  blocks: number;
  /** Repeats of an already ACKed block (its ACK was lost), ACKed again and ignored. */
  duplicates: number;
  /** NAKs sent for bad or missing packets. */
  naks: number;
}

export const DEFAULT_XMODEM_MAX_LENGTH = 64 * 1024 * 1024;
export const DEFAULT_XMODEM_PROMPT_INTERVAL_MS = 1_000;
export const DEFAULT_XMODEM_RECEIVE_START_TIMEOUT_MS = 60_000;
export const DEFAULT_XMODEM_PACKET_TIMEOUT_MS = 10_000;
export const DEFAULT_XMODEM_PACKET_BODY_TIMEOUT_MS = 1_000;

const CRC_PROMPT_BYTES = Buffer.of(CRC_PROMPT);
const ACK_BYTES = Buffer.of(ACK);
const NAK_BYTES = Buffer.of(NAK);

/**
 * Receives one file by XMODEM-CRC on `channel`: prompts with 'C' until the first
 * packet, ACKs good blocks, NAKs bad ones (after purging what is buffered), ACKs and
 * ignores a repeat of the last block, ACKs EOT. Consumes exactly the bytes of the
 * transfer: what the sender sends after EOT stays in the channel.
 * Fails with LinkTimeoutError (no sender), XmodemError (retries exhausted, cancelled
 * by the sender, out of sequence, wrong length), LinkCancelledError (signal; CAN CAN
 * is sent) or LinkClosedError.
 */
export async function receiveXmodem(channel: ByteChannel, options: XmodemReceiveOptions = {}): Promise<XmodemReceiveResult> {
  const signal = options.signal;
  const maxRetries = options.maxRetries ?? DEFAULT_XMODEM_MAX_RETRIES;
  const expectedLength = options.expectedLength;
  if (expectedLength !== undefined && (!Number.isInteger(expectedLength) || expectedLength < 0)) {
    throw new LinkUsageError('xmodem-bad-length', `expected length ${expectedLength} is not a byte count`);
  }
  const limit =
    expectedLength !== undefined
      ? xmodemBlockCount(expectedLength) * XMODEM_BLOCK_BYTES
      : options.maxLength ?? DEFAULT_XMODEM_MAX_LENGTH;
  const promptIntervalMs = options.promptIntervalMs ?? DEFAULT_XMODEM_PROMPT_INTERVAL_MS;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_XMODEM_RECEIVE_START_TIMEOUT_MS;
  const packetTimeoutMs = options.packetTimeoutMs ?? DEFAULT_XMODEM_PACKET_TIMEOUT_MS;
  const packetBodyTimeoutMs = options.packetBodyTimeoutMs ?? DEFAULT_XMODEM_PACKET_BODY_TIMEOUT_MS;

  const blocks: Buffer[] = [];
  let received = 0;
  let duplicates = 0;
  let naks = 0;
  let failuresInARow = 0;
  let started = false;

  /** Waits for SOH or EOT, skipping noise; null when the time runs out. */
  const awaitPacketStart = async (timeoutMs: number): Promise<number | null> => {
    const deadline = new Deadline(timeoutMs);
    for (;;) {
      const byte = await readByteWithin(channel, deadline.remainingMs(), signal);
      if (byte === null || byte === SOH || byte === EOT) return byte;
      if (byte === CAN) await confirmPeerCancel(channel, signal, 'XMODEM receiver');
    }
  };

  const refuse = async (why: string): Promise<void> => {
    failuresInARow += 1;
    if (failuresInARow > maxRetries) {
      throw new XmodemError(
        'xmodem-retries-exhausted',
        `XMODEM receiver: block ${blocks.length + 1} still bad after ${failuresInARow} tries (last: ${why})`,
        { tries: failuresInARow, last: why },
      );
    }
    // Drop the rest of a garbled packet so it is not read as the start of the next one.
    channel.discard();
    naks += 1;
    await channel.write(NAK_BYTES, { signal });
  };

  try {
    const startDeadline = new Deadline(startTimeoutMs);
    await channel.write(CRC_PROMPT_BYTES, { signal });
    for (;;) {
      const head = await awaitPacketStart(
        started ? packetTimeoutMs : Math.min(promptIntervalMs, startDeadline.remainingMs()),
      );
      if (head === null) {
        if (started) {
          await refuse(`no packet within ${packetTimeoutMs} ms`);
          continue;
        }
        if (startDeadline.expired()) {
          throw new LinkTimeoutError('XMODEM receiver waiting for the first packet', startTimeoutMs);
        }
        await channel.write(CRC_PROMPT_BYTES, { signal });
        continue;
      }
      if (head === EOT) {
        await channel.write(ACK_BYTES, { signal });
        break;
      }
      started = true;
      let body: Buffer;
      try {
        body = await channel.readExact(XMODEM_PACKET_BYTES - 1, { timeoutMs: packetBodyTimeoutMs, signal });
      } catch (error) {
        if (!(error instanceof LinkTimeoutError)) throw error;
        await refuse(`packet incomplete after ${packetBodyTimeoutMs} ms`);
        continue;
      }
      const number = body[0];
      if (number + body[1] !== 0xff) {
        await refuse(`block number ${number} and complement ${body[1]} disagree`);
        continue;
      }
      const payload = body.subarray(2, 2 + XMODEM_BLOCK_BYTES);
      if (crc16Xmodem(payload) !== body.readUInt16BE(2 + XMODEM_BLOCK_BYTES)) {
        await refuse(`CRC mismatch in block ${number}`);
        continue;
      }
      const expectedNumber = (blocks.length + 1) & 0xff;
      if (number === expectedNumber) {
        if (received + XMODEM_BLOCK_BYTES > limit) {
          throw new XmodemError(
            'xmodem-too-long',
            `XMODEM receiver: block ${blocks.length + 1} goes past the ${limit} bytes this transfer may carry`,
            { limit },
          );
        }
        blocks.push(payload);
        received += XMODEM_BLOCK_BYTES;
        failuresInARow = 0;
        await channel.write(ACK_BYTES, { signal });
        options.onProgress?.(expectedLength === undefined ? received : Math.min(received, expectedLength), expectedLength);
      } else if (blocks.length > 0 && number === ((expectedNumber - 1) & 0xff)) {
        // Our ACK was lost and the sender repeated the block: acknowledge it again, keep one copy.
        duplicates += 1;
        await channel.write(ACK_BYTES, { signal });
      } else {
        throw new XmodemError(
          'xmodem-out-of-sequence',
          `XMODEM receiver: got block number ${number}, expected ${expectedNumber}`,
          { got: number, expected: expectedNumber },
        );
      }
    }
  } catch (error) {
    if (
      error instanceof LinkCancelledError ||
      (error instanceof XmodemError && error.code !== 'xmodem-cancelled-by-peer')
    ) {
      await sendXmodemCancel(channel);
    }
    throw error;
  }

  const all = Buffer.concat(blocks, received);
  if (expectedLength === undefined) return { data: all, blocks: blocks.length, duplicates, naks };
  if (received !== limit) {
    throw new XmodemError(
      'xmodem-length-mismatch',
      `XMODEM receiver: expected ${expectedLength} bytes (${limit / XMODEM_BLOCK_BYTES} blocks) but got ${blocks.length} blocks`,
      { expectedLength, blocks: blocks.length },
    );
  }
  return { data: all.subarray(0, expectedLength), blocks: blocks.length, duplicates, naks };
}
