import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Deadline } from '../../link/deadline.js';
import { RecoveryErrorCode } from '../../link/recovery-error-codes.js';
import {
  BAUDRATE_STAY_115200,
  BAUDRATE_SWITCH_3M,
  INITIALIZATION_VERSION,
  LOG_CONFIG_OFF,
  RecoveryEventCode,
  type RecoveryEventName,
} from '../../link/recovery-messages.js';
import { RECOVERY_MANIFEST_FILE, RECOVERY_RUNTIME_FILE, recoveryImageFileName } from '../../image/recovery-set-layout.js';
import {
  checkBootableSet,
  checkCapabilityFormat,
  checkCapabilitySignature,
  checkManifestImage,
  checkRecoveryManifest,
  checkRecoveryRuntime,
  type CheckedFile,
} from './recovery-file-checks.js';
import type { RecoveryDeviceLink } from './recovery-device-link.js';
import { RecoveryRefusal } from './recovery-refusal.js';
import type { RecoveryTarget, UartLineSettings } from './recovery-target.js';

/**
 * Stage 2 of a recovery, once the ROM has started the recovery 1BL: the device
 * side of the control protocol, step by step as recovery-protocol.md's table
 * lists it. The device drives; each file the host sends is checked before the
 * next step, the flash is erased before the manifest is asked for, and the
 * image set is written only once every image and the whole set have verified.
 */
export const IMAGING_BAUD = 3_000_000;
export const ROM_BAUD = 115_200;
/** Per request, as the real capture shows (a 26,860-byte file came as 20,480 + 6,380). */
export const DEFAULT_IMAGE_CHUNK_BYTES = 20_480;
const MAX_CAPABILITY_BYTES = 4096;
const MAX_RUNTIME_BYTES = 1024 * 1024;
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Bytes the slot's set container adds: magic, count, then one length per image. */
const SET_CONTAINER_BYTES = (images: number) => 8 + 4 * images;

export interface RecoveryAgentTimings {
  /** How long the host has to show the agreed line settings after answering the baud query. */
  lineSwitchTimeoutMs: number;
  /** How often the device looks at the host's line settings meanwhile. */
  lineSwitchPollMs: number;
  /**
   * Unset (the default): every query is sent once and the device waits for its
   * answer, as a real board does (recovery-protocol.md, captured facts). Set: the
   * emulator's earlier agent, which sent BaudrateSwitchQuery and StatusRequest
   * again after this long; kept only to test hosts against it.
   */
  queryResendMs?: number;
  /** Pause before asking again after StatusBusy. */
  busyRetryMs: number;
}

export const DEFAULT_AGENT_TIMINGS: Readonly<RecoveryAgentTimings> = Object.freeze({
  lineSwitchTimeoutMs: 5_000,
  lineSwitchPollMs: 10,
  busyRetryMs: 100,
});

export interface RecoveryAgentOptions {
  timings: RecoveryAgentTimings;
  chunkBytes: number;
  signal?: AbortSignal;
  /** Lines for the board's debug console. */
  say?: (text: string) => void;
}

export interface RecoveryAgentResult {
  osVersion: string;
  imageCount: number;
  totalBytes: number;
  capabilityInstalled: boolean;
}

export async function runRecoveryAgent(link: RecoveryDeviceLink, target: RecoveryTarget, options: RecoveryAgentOptions): Promise<RecoveryAgentResult> {
  const trust = target.romTrust();
  const fuses = target.fuses();
  const say = options.say ?? (() => undefined);
  const event = (name: RecoveryEventName) => link.send({ kind: 'RecoveryEvent', event: RecoveryEventCode[name] });
  const queryLogConfig = async (step: string) => {
    const answer = await link.ask({ kind: 'LogConfigQuery' }, ['SimpleQueryAck'] as const, step);
    link.logsEnabled = answer.value !== LOG_CONFIG_OFF;
  };
  const fetchRequired = async (filename: string, limits: Parameters<RecoveryDeviceLink['fetch']>[1], step: string) => {
    const data = await link.fetch({ kind: 'ImageRequestByFilename', filename }, limits, step);
    if (!data) throw new RecoveryRefusal(RecoveryErrorCode.ImageNotFound, `${step}: the host has no ${filename}`);
    return data;
  };

  // 1-3: hello, then logging.
  await link.ask({ kind: 'Initialization', version: INITIALIZATION_VERSION, deviceId: target.deviceId.toLowerCase() }, ['InitializationAck'] as const, 'initialization');
  await event('BLInitializationComplete');
  await queryLogConfig('log configuration');

  // 4-5: the capability image, if the host has one.
  let capability: Buffer | undefined;
  const capabilityBytes = await link.fetch({ kind: 'ImageRequestCapability' }, { maxLength: MAX_CAPABILITY_BYTES }, 'capability image');
  if (capabilityBytes) {
    await event('BLCapabilityImageReceived');
    const format = checkCapabilityFormat(capabilityBytes, target.deviceId);
    if (format.boundHere) {
      capability = capabilityBytes;
      await event('BLCapabilityImageLoaded');
    } else {
      // image-format.md: a device ignores a capability image carrying another device's ID.
      await link.log('capability image is bound to another device: ignored');
    }
  }

  // 6-8: the recovery agent.
  const runtime = await fetchRequired(RECOVERY_RUNTIME_FILE, { maxLength: MAX_RUNTIME_BYTES }, 'recovery runtime');
  checkRecoveryRuntime(runtime, trust, fuses);
  await queryLogConfig('recovery runtime log configuration');
  await event('RABootComplete');
  say('[RA] recovery agent running');

  // 9-10: the line switch; only a host that switched to 3 Mbaud is asked whether it is ready (as captured).
  const baud = await link.ask({ kind: 'BaudrateSwitchQuery' }, ['SimpleQueryAck'] as const, 'baud-rate switch', resending(options.timings));
  let line: UartLineSettings;
  if (baud.value === BAUDRATE_SWITCH_3M) line = { baudRate: IMAGING_BAUD, rtsCts: true };
  else if (baud.value === BAUDRATE_STAY_115200) line = { baudRate: ROM_BAUD, rtsCts: true };
  else throw RecoveryRefusal.protocol(`baud-rate switch: answer ${baud.value} is neither 0 nor 1`);
  target.setLineSettings(line);
  await awaitHostLine(target, line, options);
  if (line.baudRate === IMAGING_BAUD) await awaitHostReady(link, options);

  // 11: erase, which takes a real board about 18 s (the target says how long this board takes).
  await event('RAEraseFlashStarted');
  await link.log('erasing flash');
  const eraseStarted = performance.now();
  await flashStep('erasing the flash', RecoveryErrorCode.FlashEraseFailed, () => target.eraseFlash());
  const eraseLeftMs = (target.eraseDurationMs?.() ?? 0) - (performance.now() - eraseStarted);
  if (eraseLeftMs > 0) await delay(eraseLeftMs, undefined, options.signal ? { signal: options.signal } : {});
  await event('RAEraseFlashComplete');
  say('[RA] flash erased');

  // 12-14: the manifest.
  const manifestBytes = await fetchRequired(RECOVERY_MANIFEST_FILE, { maxLength: MAX_MANIFEST_BYTES }, 'recovery manifest');
  const manifest = checkRecoveryManifest(manifestBytes, trust, fuses);
  await event('RAManifestReceived');
  const imageCount = manifest.entries.length;
  const totalBytes = manifest.entries.reduce((sum, entry) => sum + entry.fileSize, 0);
  if (totalBytes + SET_CONTAINER_BYTES(imageCount) > target.imageSetCapacity) {
    throw new RecoveryRefusal(RecoveryErrorCode.ReceiveBufferTooSmall, `the image set is ${totalBytes} bytes; an OS slot holds ${target.imageSetCapacity}`);
  }
  await event('RAManifestProcessed');
  let bytesRemaining = totalBytes;
  await link.send({ kind: 'ProgressUpdate', imagesRemaining: imageCount, imageCount, bytesRemaining, totalBytes });

  // 15: every image, in chunks.
  const images: CheckedFile[] = [];
  for (const [index, entry] of manifest.entries.entries()) {
    const filename = recoveryImageFileName(entry.imageId);
    const bytes = await fetchRequired(
      filename,
      { exactLength: entry.fileSize, maxLength: target.imageSetCapacity, tooLongCode: RecoveryErrorCode.ReceiveBufferTooSmall, chunkBytes: options.chunkBytes },
      `image ${index + 1} of ${imageCount} (${filename})`,
    );
    images.push(checkManifestImage(bytes, entry, trust, fuses));
    bytesRemaining -= entry.fileSize;
    await link.send({ kind: 'ProgressUpdate', imagesRemaining: imageCount - index - 1, imageCount, bytesRemaining, totalBytes });
  }

  // The whole set must boot, and the capability must come from a signer its keystore trusts.
  const set = checkBootableSet(images, trust, fuses);
  if (capability) checkCapabilitySignature(capability, set.keystorePem, target.deviceId);
  await link.log(`writing OS ${set.osVersion}`);
  await flashStep('writing the image set', RecoveryErrorCode.FlashWriteFailed, () => target.writeImageSet(set.ordered, capability));
  say(`[RA] OS ${set.osVersion} written`);

  // 16.
  await event('RARecoveryComplete');
  await link.send({ kind: 'RecoveryComplete' });
  return { osVersion: set.osVersion, imageCount, totalBytes, capabilityInstalled: capability !== undefined };
}

/** A flash step the board refused (power lost, reset meanwhile) is a flash failure for the host. */
async function flashStep(what: string, code: number, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (error instanceof RecoveryRefusal) throw error;
    throw new RecoveryRefusal(code, `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Ask options for the baud and status queries: none (send once) unless the pre-capture resending is asked for. */
function resending(timings: RecoveryAgentTimings): { resendAfterMs?: number; maxSends?: number } {
  return timings.queryResendMs === undefined ? {} : { resendAfterMs: timings.queryResendMs, maxSends: 3 };
}

/**
 * After its answer to the baud query the host must reopen its port with the
 * agreed settings. A real device just starts talking at the new rate (a host that
 * did not switch reads garbage); the emulator looks at the pty's termios until
 * they match, because a host that reopens its port also flushes it, and anything
 * sent before would be lost.
 */
async function awaitHostLine(target: RecoveryTarget, line: UartLineSettings, options: RecoveryAgentOptions): Promise<void> {
  if (!target.readHostLineSettings) return;
  const deadline = new Deadline(options.timings.lineSwitchTimeoutMs);
  for (;;) {
    const host = await target.readHostLineSettings(options.signal);
    if (host.baudRate === line.baudRate && host.rtsCts === line.rtsCts && host.stopBits === 1) return;
    if (deadline.expired()) {
      const seen = `${host.baudRate ?? 'a non-standard rate'} baud, ${host.stopBits} stop bit(s), RTS/CTS ${host.rtsCts ? 'on' : 'off'}`;
      throw new RecoveryRefusal(
        RecoveryErrorCode.StreamSyncFailed,
        `the host's line is at ${seen}; the device switched to ${line.baudRate} baud 8N1 with RTS/CTS`,
      );
    }
    await delay(options.timings.lineSwitchPollMs, undefined, options.signal ? { signal: options.signal } : {});
  }
}

/** StatusRequest until ServerReady; StatusBusy means ask again shortly. */
async function awaitHostReady(link: RecoveryDeviceLink, options: RecoveryAgentOptions): Promise<void> {
  const deadline = new Deadline(options.timings.lineSwitchTimeoutMs + 30_000);
  for (;;) {
    const answer = await link.ask({ kind: 'StatusRequest' }, ['ServerReady', 'StatusBusy'] as const, 'status', resending(options.timings));
    if (answer.kind === 'ServerReady') return;
    if (deadline.expired()) throw new RecoveryRefusal(RecoveryErrorCode.GetServerResponseTimedOut, 'status: the host stayed busy');
    await delay(options.timings.busyRetryMs, undefined, options.signal ? { signal: options.signal } : {});
  }
}
