import type { ByteChannel } from './byte-channel.js';
import { crc16Xmodem } from './crc16-xmodem.js';
import { LinkTimeoutError } from './link-errors.js';
import { RigError } from '../util/failure.js';

/**
 * XMODEM-CRC as the MT3620 recovery path speaks it: 128-byte blocks, each sent as
 *   SOH | block number | 255 - block number | 128 data bytes | CRC-16/XMODEM (big-endian)
 * answered by ACK or NAK; EOT ends the transfer; the receiver opens with 'C' prompts;
 * two CANs in a row cancel from either side. Block numbers start at 1 and wrap at 256.
 */

export const SOH = 0x01;
export const EOT = 0x04;
export const ACK = 0x06;
export const NAK = 0x15;
export const CAN = 0x18;
/** 'C': the receiver asks for CRC mode, and for the first block. */
export const CRC_PROMPT = 0x43;
/** Fills the last block. */
export const PAD = 0x1a;

export const XMODEM_BLOCK_BYTES = 128;
/** SOH, block number, its complement, 128 data bytes, two CRC bytes. */
export const XMODEM_PACKET_BYTES = 3 + XMODEM_BLOCK_BYTES + 2;
export const DEFAULT_XMODEM_MAX_RETRIES = 10;

export type XmodemErrorCode =
  | 'xmodem-retries-exhausted' // a block (or the EOT) failed maxRetries times after its first try
  | 'xmodem-cancelled-by-peer' // the other side sent CAN CAN
  | 'xmodem-out-of-sequence' // a block number that is neither the next nor a repeat of the last
  | 'xmodem-length-mismatch' // the receiver got fewer or more blocks than the expected length needs
  | 'xmodem-too-long'; // more data than the receiver was told to accept

/** An XMODEM transfer that failed because of what the other side did (or did not) send. */
export class XmodemError extends RigError {
  declare readonly code: XmodemErrorCode;

  constructor(code: XmodemErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('device-fault', code, message, details);
  }
}

/** Number of blocks `length` bytes take. */
export function xmodemBlockCount(length: number): number {
  return Math.ceil(length / XMODEM_BLOCK_BYTES);
}

/** One packet: `payload` (at most 128 bytes, padded with 0x1a) as block `blockNumber` (taken mod 256). */
export function buildXmodemPacket(blockNumber: number, payload: Uint8Array): Buffer {
  if (payload.length > XMODEM_BLOCK_BYTES) {
    throw new RigError('infra-error', 'xmodem-bad-block', `an XMODEM block holds ${XMODEM_BLOCK_BYTES} bytes, not ${payload.length}`);
  }
  const packet = Buffer.alloc(XMODEM_PACKET_BYTES, PAD);
  const number = blockNumber & 0xff;
  packet[0] = SOH;
  packet[1] = number;
  packet[2] = 0xff - number;
  packet.set(payload, 3);
  packet.writeUInt16BE(crc16Xmodem(packet.subarray(3, 3 + XMODEM_BLOCK_BYTES)), 3 + XMODEM_BLOCK_BYTES);
  return packet;
}

/** How long a best-effort cancel may take: it is sent while already failing. */
const CANCEL_WRITE_TIMEOUT_MS = 1_000;

/** Tells the other side to stop (CAN CAN); never throws, the transfer is failing anyway. */
export async function sendXmodemCancel(channel: ByteChannel): Promise<void> {
  if (channel.closed) return;
  try {
    await channel.write(Buffer.of(CAN, CAN), { timeoutMs: CANCEL_WRITE_TIMEOUT_MS });
  } catch {
    // The line is gone or stuck; the caller's error says why the transfer failed.
  }
}

/**
 * The next byte, or null when none comes within `timeoutMs`: in XMODEM a
 * silence is an answer (a NAK, a prompt to repeat), not a failure.
 */
export async function readByteWithin(channel: ByteChannel, timeoutMs: number, signal: AbortSignal | undefined): Promise<number | null> {
  try {
    return await channel.readByte({ timeoutMs, signal });
  } catch (error) {
    if (error instanceof LinkTimeoutError) return null;
    throw error;
  }
}

/** How long a CAN waits for the second CAN that makes it a cancel. */
const CAN_CONFIRM_TIMEOUT_MS = 1_000;

/**
 * Called after reading one CAN: throws XmodemError('xmodem-cancelled-by-peer') when a
 * second CAN follows. A lone CAN is line noise: any other byte that follows is put
 * back for the caller to read, and the transfer goes on.
 */
export async function confirmPeerCancel(channel: ByteChannel, signal: AbortSignal | undefined, what: string): Promise<void> {
  const next = await readByteWithin(channel, CAN_CONFIRM_TIMEOUT_MS, signal);
  if (next === null) return;
  if (next === CAN) throw new XmodemError('xmodem-cancelled-by-peer', `${what}: the other side cancelled (CAN CAN)`);
  channel.unshift(Buffer.of(next));
}
