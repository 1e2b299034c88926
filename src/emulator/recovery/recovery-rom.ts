import { createHash } from 'node:crypto';
import type { ByteChannel } from '../../link/byte-channel.js';
import { LinkTimeoutError } from '../../link/link-errors.js';
import { receiveXmodem } from '../../link/xmodem-receiver.js';
import { XmodemError } from '../../link/xmodem.js';
import { DEFAULT_AGENT_TIMINGS, DEFAULT_IMAGE_CHUNK_BYTES, runRecoveryAgent, type RecoveryAgentResult, type RecoveryAgentTimings } from './recovery-agent.js';
import { RecoveryDeviceLink, type DeviceLinkTimings } from './recovery-device-link.js';
import { checkRecovery1bl } from './recovery-file-checks.js';
import { RecoveryRefusal } from './recovery-refusal.js';
import type { RecoveryTarget } from './recovery-target.js';

/**
 * One session of the MT3620 ROM's recovery mode on the recovery UART (115200 8N1,
 * no flow control): the banner, 'C' prompts until a host sends the recovery 1BL
 * by XMODEM-CRC, the 1BL's checks, `+GOOD` and the 1BL's boot line, then the
 * recovery agent (recovery-agent.ts). Resolves once a recovery completed.
 *
 * Every refusal reaches the host as a RecoveryError message (code and text):
 * during stage 2 as a frame of the control protocol; for a refused 1BL, where
 * no protocol runs yet, this project's ROM answers `-BAD` instead of `+GOOD`
 * and then sends the same RecoveryError frame, so a host has one way to learn
 * why. Nothing is sent once the session's signal fired (reset, power cut).
 */
export const ROM_BANNER = 'RECOVERY';
export const ROM_GOOD = '+GOOD';
export const ROM_BAD = '-BAD';
/** The 1BL's first line (recovery-protocol.md gives this POST code). */
export const ONE_BL_BOOT_LINE = '[1BL] BOOT: 380a0300/00000001/02000000';
/** The ROM's buffer for the 1BL: anything longer is refused by XMODEM itself. */
const MAX_1BL_BYTES = 64 * 1024;

export interface RecoveryRomTimings extends DeviceLinkTimings, RecoveryAgentTimings {
  /** The ROM prompts for this long per attempt before it starts prompting afresh. */
  romPromptWindowMs: number;
}

export const DEFAULT_ROM_TIMINGS: Readonly<RecoveryRomTimings> = Object.freeze({
  ...DEFAULT_AGENT_TIMINGS,
  answerTimeoutMs: 10_000,
  promptIntervalMs: 1_000,
  xmodemPacketTimeoutMs: 10_000,
  romPromptWindowMs: 60_000,
});

export interface RecoveryRomOptions {
  timings?: Partial<RecoveryRomTimings>;
  chunkBytes?: number;
  signal?: AbortSignal;
  say?: (text: string) => void;
}

/**
 * The hex line after RECOVERY. Real boards print 16 bytes such as
 * `0000362000008A01020A00008FC8C833` (chip, ROM version, a per-chip tag);
 * the emulator keeps the first 12 bytes and takes the tag from the device ID.
 */
export function romInfoLine(deviceId: string): string {
  const tag = createHash('sha256').update(deviceId.toLowerCase()).digest().subarray(0, 4).toString('hex');
  return `0000362000008A01020A0000${tag}`.toUpperCase();
}

export async function runRecoveryRom(channel: ByteChannel, target: RecoveryTarget, options: RecoveryRomOptions = {}): Promise<RecoveryAgentResult> {
  const timings: RecoveryRomTimings = { ...DEFAULT_ROM_TIMINGS, ...options.timings };
  const signal = options.signal;
  const writeLine = (text: string) => channel.write(Buffer.from(`${text}\r\n`, 'latin1'), { signal });
  const link = new RecoveryDeviceLink(channel, timings, signal);
  const refuse = async (refusal: RecoveryRefusal): Promise<never> => {
    if (!signal?.aborted) {
      options.say?.(`[RA] recovery refused: ${refusal.text}`);
      await link.send({ kind: 'RecoveryError', code: refusal.recoveryCode, text: refusal.text }).catch(() => undefined);
    }
    throw refusal;
  };

  await writeLine(ROM_BANNER);
  await writeLine(romInfoLine(target.deviceId));

  // Stage 1: prompt until someone sends a 1BL. A failed transfer is not a refusal: prompt again.
  let received: Buffer;
  for (;;) {
    try {
      received = (
        await receiveXmodem(channel, {
          signal,
          maxLength: MAX_1BL_BYTES,
          promptIntervalMs: timings.promptIntervalMs,
          startTimeoutMs: timings.romPromptWindowMs,
          packetTimeoutMs: timings.xmodemPacketTimeoutMs,
        })
      ).data;
      break;
    } catch (error) {
      if (error instanceof LinkTimeoutError || error instanceof XmodemError) continue;
      throw error;
    }
  }
  try {
    checkRecovery1bl(received, target.romTrust(), target.fuses());
  } catch (error) {
    if (!(error instanceof RecoveryRefusal)) throw error;
    if (!signal?.aborted) await writeLine(ROM_BAD).catch(() => undefined);
    return refuse(error);
  }
  await writeLine(ROM_GOOD);
  await writeLine(ONE_BL_BOOT_LINE);

  try {
    return await runRecoveryAgent(link, target, {
      timings,
      chunkBytes: options.chunkBytes ?? DEFAULT_IMAGE_CHUNK_BYTES,
      ...(signal ? { signal } : {}),
      ...(options.say ? { say: options.say } : {}),
    });
  } catch (error) {
    if (error instanceof RecoveryRefusal) return refuse(error);
    throw error;
  }
}
