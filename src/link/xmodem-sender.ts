import type { ByteChannel } from './byte-channel.js';
import { Deadline } from './deadline.js';
import { LinkCancelledError, LinkTimeoutError } from './link-errors.js';
import {
  ACK,
  buildXmodemPacket,
  CAN,
  confirmPeerCancel,
  CRC_PROMPT,
  DEFAULT_XMODEM_MAX_RETRIES,
  EOT,
  NAK,
  readByteWithin,
  sendXmodemCancel,
  XMODEM_BLOCK_BYTES,
  xmodemBlockCount,
  XmodemError,
} from './xmodem.js';

export interface XmodemSendOptions {
  signal?: AbortSignal | undefined;
  /** Resends of one block (or of the EOT) after its first try before giving up. Default 10. */
  maxRetries?: number | undefined;
  /** How long to wait for the receiver's first 'C'. Default 60 s. */
  startTimeoutMs?: number | undefined;
  /** How long to wait for ACK/NAK after each packet and after EOT before resending. Default 10 s. */
  responseTimeoutMs?: number | undefined;
  /** Called after each acknowledged block with bytes delivered so far and the total. */
  onProgress?: ((sentBytes: number, totalBytes: number) => void) | undefined;
}

export interface XmodemSendResult {
  bytes: number;
  blocks: number;
  /** Packets sent again after a NAK, a timeout or a garbled answer. */
  retransmissions: number;
}

export const DEFAULT_XMODEM_START_TIMEOUT_MS = 60_000;
export const DEFAULT_XMODEM_RESPONSE_TIMEOUT_MS = 10_000;

type Answer = 'ack' | 'nak' | 'timeout';

/**
 * Sends `data` to an XMODEM-CRC receiver on `channel`. Waits for the receiver's 'C',
 * sends each block until it is ACKed (at most 1 + maxRetries times), then EOT.
 * Consumes exactly the bytes the protocol needs: whatever the receiver sends after
 * its last ACK stays in the channel for the next handler.
 * Fails with LinkTimeoutError (no receiver), XmodemError (retries exhausted,
 * cancelled by the receiver), LinkCancelledError (signal; CAN CAN is sent) or
 * LinkClosedError.
 */
export async function sendXmodem(
  channel: ByteChannel,
  data: Uint8Array,
  options: XmodemSendOptions = {},
): Promise<XmodemSendResult> {
  const signal = options.signal;
  const maxRetries = options.maxRetries ?? DEFAULT_XMODEM_MAX_RETRIES;
  const responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_XMODEM_RESPONSE_TIMEOUT_MS;
  const blocks = xmodemBlockCount(data.length);
  let retransmissions = 0;

  const awaitAnswer = async (promptMeansNak: boolean, what: string): Promise<Answer> => {
    const deadline = new Deadline(responseTimeoutMs);
    for (;;) {
      const byte = await readByteWithin(channel, deadline.remainingMs(), signal);
      if (byte === null) return 'timeout';
      if (byte === ACK) return 'ack';
      // A receiver still prompting has not seen block 1: the prompt is its NAK.
      if (byte === NAK || (promptMeansNak && byte === CRC_PROMPT)) return 'nak';
      if (byte === CAN) await confirmPeerCancel(channel, signal, `XMODEM sender, ${what}`);
      // Anything else is line noise: keep waiting for a real answer until the deadline.
    }
  };

  const transmit = async (packet: Buffer, promptMeansNak: boolean, what: string): Promise<void> => {
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 0) {
        retransmissions += 1;
        // A late answer to the previous try must not be taken as the answer to this one.
        channel.discard();
      }
      await channel.write(packet, { signal });
      const answer = await awaitAnswer(promptMeansNak, what);
      if (answer === 'ack') return;
      if (attempt >= maxRetries) {
        throw new XmodemError(
          'xmodem-retries-exhausted',
          `XMODEM sender: ${what} not acknowledged after ${attempt + 1} tries (last answer: ${answer})`,
          { tries: attempt + 1, lastAnswer: answer },
        );
      }
    }
  };

  try {
    await awaitStartPrompt(channel, options.startTimeoutMs ?? DEFAULT_XMODEM_START_TIMEOUT_MS, signal);
    // Prompts that piled up while we were getting ready are not answers to block 1.
    channel.discard();
    for (let index = 0; index < blocks; index += 1) {
      const start = index * XMODEM_BLOCK_BYTES;
      const packet = buildXmodemPacket(index + 1, data.subarray(start, start + XMODEM_BLOCK_BYTES));
      await transmit(packet, index === 0, `block ${index + 1} of ${blocks}`);
      options.onProgress?.(Math.min(start + XMODEM_BLOCK_BYTES, data.length), data.length);
    }
    await transmit(Buffer.of(EOT), blocks === 0, 'EOT');
  } catch (error) {
    if (error instanceof LinkCancelledError || (error instanceof XmodemError && error.code === 'xmodem-retries-exhausted')) {
      await sendXmodemCancel(channel);
    }
    throw error;
  }
  return { bytes: data.length, blocks, retransmissions };
}

/** Waits for the receiver's 'C'; other bytes (banner text, noise) are skipped. */
async function awaitStartPrompt(channel: ByteChannel, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = new Deadline(timeoutMs);
  for (;;) {
    const byte = await readByteWithin(channel, deadline.remainingMs(), signal);
    if (byte === null) throw new LinkTimeoutError("XMODEM sender waiting for the receiver's 'C'", timeoutMs);
    if (byte === CRC_PROMPT) return;
    if (byte === CAN) await confirmPeerCancel(channel, signal, 'XMODEM sender, waiting to start');
  }
}
