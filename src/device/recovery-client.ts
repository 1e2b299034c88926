import { performance } from 'node:perf_hooks';
import { RECOVERY_1BL_FILE, RECOVERY_MANIFEST_FILE, RECOVERY_RUNTIME_FILE } from '../image/recovery-set-layout.js';
import type { ByteChannel } from '../link/byte-channel.js';
import { Deadline } from '../link/deadline.js';
import { LinkCancelledError, LinkOverflowError, LinkTimeoutError } from '../link/link-errors.js';
import { encodeFrame, FrameDecoder } from '../link/recovery-frame.js';
import { readFrameMessage } from '../link/recovery-frame-reader.js';
import {
  BAUDRATE_STAY_115200,
  BAUDRATE_SWITCH_3M,
  decodeRecoveryMessage,
  encodeRecoveryMessage,
  isClientMessageType,
  LOG_CONFIG_OFF,
  RecoveryEventCode,
  recoveryEventName,
  type RecoveryMessage,
} from '../link/recovery-messages.js';
import { sendXmodem } from '../link/xmodem-sender.js';
import { XmodemError } from '../link/xmodem.js';
import { MalformedDataError } from '../link/link-errors.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import type { BoardPins } from './board-pins.js';
import { DeviceRefusedRecovery, recoveryFailure, RecoveryFailedError, type RecoveryStep } from './recovery-failure.js';
import { RecoveryImageFolder, type RecoveryImageSource } from './recovery-image-folder.js';
import { FAST_IMAGING_LINE, LOW_SPEED_IMAGING_LINE, ROM_LINE, type RecoveryLine, type RecoveryLineSettings } from './recovery-line.js';
import type { RecoveryProgress } from './recovery-progress.js';
import { SerialRecoveryLine } from './serial-recovery-line.js';

const log = componentLogger('recovery-client');

/**
 * The host's side of a recovery over the recovery UART (recovery-protocol.md):
 * take the board into ROM (strap high, reset), read the ROM banner, release the
 * strap, send the recovery 1BL by XMODEM-CRC, then answer the device's control
 * messages until RecoveryComplete: serve the capability image, the runtime, the
 * manifest and every image (in the chunks the device asks for), switch the line
 * when the device asks, report progress. The device checks everything; the host
 * only serves files and keeps time.
 *
 * Every wait has a timeout (per step, see RecoveryTimeouts) and honours the
 * caller's AbortSignal; a failure is a RecoveryFailedError naming the step. The
 * port is closed at the end whatever happens, and a strap left high is lowered.
 */
export interface RecoveryTimeouts {
  portOpenMs: number;
  /** Each strap or reset command. */
  pinMs: number;
  /** From the reset until the ROM's RECOVERY line. */
  romBannerMs: number;
  /** For the receiver's first 'C' of each XMODEM transfer. */
  xmodemStartMs: number;
  /** For ACK/NAK of each XMODEM block. */
  xmodemResponseMs: number;
  /** From the 1BL's last block until +GOOD and the boot line. */
  bootLineMs: number;
  /** For each device message in general. */
  messageMs: number;
  /** After RAEraseFlashStarted: erasing takes seconds on a real board. */
  eraseMs: number;
  /** After the last image: the device verifies and writes the flash. */
  writeMs: number;
}

export const DEFAULT_RECOVERY_TIMEOUTS: Readonly<RecoveryTimeouts> = Object.freeze({
  portOpenMs: 5_000,
  pinMs: 10_000,
  romBannerMs: 15_000,
  xmodemStartMs: 15_000,
  xmodemResponseMs: 10_000,
  bootLineMs: 15_000,
  messageMs: 30_000,
  eraseMs: 120_000,
  writeMs: 300_000,
});

export interface RecoveryClientOptions {
  /** The recovery UART's serial device (e.g. /dev/ttyUSB3, or an emulated board's pty). */
  port?: string;
  /** Instead of `port`: a line already open at 115200 without flow control. The client closes it at the end. */
  line?: RecoveryLine;
  /** The recovery image set: a folder, or any source of files by name. */
  images: string | RecoveryImageSource;
  /** A device capability image to install during the recovery. */
  capability?: Buffer;
  pins: BoardPins;
  /** Image at 115200 baud (with RTS/CTS) instead of 3,000,000. */
  lowSpeed?: boolean;
  /** Ask the device for LogEntry messages (reported as 'device-log' progress). */
  deviceLogs?: boolean;
  onProgress?: (progress: RecoveryProgress) => void;
  signal?: AbortSignal;
  /** Limit for the whole recovery, on top of the per-step timeouts. */
  timeoutMs?: number;
  timeouts?: Partial<RecoveryTimeouts>;
}

export interface RecoveryResult {
  deviceId: string;
  /** The hex line the ROM printed after RECOVERY. */
  romInfo: string;
  /** The 1BL's boot line, e.g. `[1BL] BOOT: 380a0300/00000001/02000000`. */
  bootLine: string;
  imageCount: number;
  totalBytes: number;
  /** Payload bytes sent by XMODEM: every file and chunk. */
  xmodemBytes: number;
  /** XMODEM packets sent again after a NAK or a missing answer. */
  retransmissions: number;
  /** RecoveryEvent codes in arrival order. */
  events: number[];
  line: RecoveryLineSettings;
  capabilitySent: boolean;
  deviceLogs: string[];
  durationMs: number;
  /** Milliseconds from the first image request to the last image's ProgressUpdate: the imaging itself. */
  imagingMs: number;
}

/** Recovers one board; resolves once the device sent RecoveryComplete (it then reboots by itself). */
export async function recoverBoard(options: RecoveryClientOptions): Promise<RecoveryResult> {
  if ((options.port === undefined) === (options.line === undefined)) {
    throw new RigError('infra-error', 'recovery-bad-options', 'recoverBoard needs exactly one of port and line');
  }
  return new RecoverySession(options).run();
}

/** How long the device may take to start its 'C' prompts once the ROM banner is seen. */
const INFO_LINE_TIMEOUT_MS = 5_000;
const MAX_LINE_BYTES = 1024;
/** How long a device that cancelled a transfer may take to say why. */
const REFUSAL_GRACE_MS = 2_000;
const GOODBYE_TIMEOUT_MS = 500;

class RecoverySession {
  readonly #options: RecoveryClientOptions;
  readonly #timeouts: RecoveryTimeouts;
  readonly #signal: AbortSignal;
  readonly #overall: AbortSignal | undefined;
  readonly #decoder = new FrameDecoder();
  #images!: RecoveryImageSource;
  #line: RecoveryLine | undefined;
  #step: RecoveryStep = 'open-port';
  #strapHigh = false;
  #inControlStage = false;
  #nextMessageMs: number;
  #device: Partial<Pick<RecoveryProgress, 'imagesRemaining' | 'imageCount' | 'bytesRemaining' | 'totalBytes'>> = {};
  #imagesStartedAt: number | undefined;
  #imagesDoneAt: number | undefined;
  readonly #result: Omit<RecoveryResult, 'durationMs' | 'imagingMs'> = {
    deviceId: '',
    romInfo: '',
    bootLine: '',
    imageCount: 0,
    totalBytes: 0,
    xmodemBytes: 0,
    retransmissions: 0,
    events: [],
    line: ROM_LINE,
    capabilitySent: false,
    deviceLogs: [],
  };

  constructor(options: RecoveryClientOptions) {
    this.#options = options;
    this.#timeouts = { ...DEFAULT_RECOVERY_TIMEOUTS, ...options.timeouts };
    this.#nextMessageMs = this.#timeouts.messageMs;
    this.#overall = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const signals = [options.signal, this.#overall].filter((s): s is AbortSignal => s !== undefined);
    this.#signal = signals.length ? AbortSignal.any(signals) : new AbortController().signal;
  }

  get #channel(): ByteChannel {
    return this.#line!.channel;
  }

  async run(): Promise<RecoveryResult> {
    const started = performance.now();
    try {
      this.#images = typeof this.#options.images === 'string' ? RecoveryImageFolder.open(this.#options.images) : this.#options.images;
      const oneBl = this.#requireFile(RECOVERY_1BL_FILE);
      this.#requireFile(RECOVERY_RUNTIME_FILE);
      this.#requireFile(RECOVERY_MANIFEST_FILE);

      this.#enter('open-port');
      this.#line =
        this.#options.line ?? (await SerialRecoveryLine.open(this.#options.port!, ROM_LINE, { timeoutMs: this.#timeouts.portOpenMs, signal: this.#signal }));
      // Bytes an earlier session left in the port are not this recovery's.
      await this.#line.flush({ signal: this.#signal });

      this.#enter('enter-rom');
      const pinOptions = { timeoutMs: this.#timeouts.pinMs, signal: this.#signal };
      this.#strapHigh = true;
      await this.#options.pins.setRecoveryStrap(true, pinOptions);
      // Not after the reset: the ROM may print its banner before the reset command returns.
      this.#channel.discard();
      await this.#options.pins.reset(pinOptions);

      this.#enter('rom-banner');
      await this.#awaitRomBanner();
      // The ROM has started: release the strap so that the device's final reboot boots the new set.
      await this.#options.pins.setRecoveryStrap(false, pinOptions);
      this.#strapHigh = false;

      this.#enter('send-1bl');
      await this.#sendXmodem(RECOVERY_1BL_FILE, oneBl, 0, oneBl.length);

      this.#enter('start-1bl');
      await this.#await1blStart();
      this.#inControlStage = true;
      await this.#converse();
      const durationMs = performance.now() - started;
      const imagingMs = this.#imagesStartedAt !== undefined && this.#imagesDoneAt !== undefined ? this.#imagesDoneAt - this.#imagesStartedAt : 0;
      return { ...this.#result, durationMs, imagingMs };
    } catch (error) {
      throw await this.#fail(error);
    } finally {
      await this.#line?.close();
      if (this.#strapHigh) {
        // Not thrown over the recovery's own outcome, but said: every later reset would take the board back into ROM.
        await this.#options.pins.setRecoveryStrap(false, { timeoutMs: this.#timeouts.pinMs }).catch((error: unknown) =>
          log.warn('the recovery strap could not be lowered: the next reset enters ROM recovery again', { port: this.#options.port ?? null, error: (error as Error).message }),
        );
      }
    }
  }

  // ---- stage 1 -------------------------------------------------------------------------

  async #awaitRomBanner(): Promise<void> {
    const deadline = new Deadline(this.#timeouts.romBannerMs);
    for (;;) {
      const text = await this.#readLine(deadline.remainingMs(), 'the ROM banner (RECOVERY)');
      // 'C' prompts of an earlier session may sit in front of it.
      if (/RECOVERY$/.test(text)) break;
    }
    this.#result.romInfo = await this.#readLine(INFO_LINE_TIMEOUT_MS, "the ROM's hex line");
  }

  async #await1blStart(): Promise<void> {
    const deadline = new Deadline(this.#timeouts.bootLineMs);
    for (;;) {
      const text = await this.#readLine(deadline.remainingMs(), '+GOOD from the ROM');
      if (text.endsWith('+GOOD')) break;
      if (text.endsWith('-BAD')) {
        // This project's ROM follows -BAD with a RecoveryError frame saying why.
        const why = await this.#readMessage(REFUSAL_GRACE_MS).catch(() => undefined);
        if (why?.kind === 'RecoveryError') throw new DeviceRefusedRecovery(why.code, why.text);
        throw new RigError('device-fault', 'recovery-1bl-refused', 'the ROM refused the recovery 1BL (-BAD)');
      }
    }
    for (;;) {
      const text = await this.#readLine(deadline.remainingMs(), "the 1BL's boot line");
      if (text.startsWith('[1BL]')) {
        this.#result.bootLine = text;
        return;
      }
    }
  }

  /** One text line without its CR LF; over-long junk is skipped. */
  async #readLine(timeoutMs: number, what: string): Promise<string> {
    const deadline = new Deadline(timeoutMs);
    for (;;) {
      try {
        const bytes = await this.#channel.readUntil(0x0a, { timeoutMs: deadline.remainingMs(), signal: this.#signal, maxBytes: MAX_LINE_BYTES });
        return bytes.toString('latin1').replace(/\r?\n$/, '').trim();
      } catch (error) {
        if (error instanceof LinkOverflowError) {
          this.#channel.take(MAX_LINE_BYTES);
          continue;
        }
        if (error instanceof LinkTimeoutError) throw new LinkTimeoutError(`waiting for ${what}`, timeoutMs);
        throw error;
      }
    }
  }

  // ---- stage 2 -------------------------------------------------------------------------

  async #converse(): Promise<void> {
    for (;;) {
      const message = await this.#readMessage(this.#nextMessageMs);
      this.#nextMessageMs = this.#timeouts.messageMs;
      switch (message.kind) {
        case 'Initialization':
          this.#enter('initialization');
          this.#result.deviceId = message.deviceId.toLowerCase();
          await this.#send({ kind: 'InitializationAck' });
          break;
        case 'RecoveryEvent':
          this.#onEvent(message.event);
          break;
        case 'LogConfigQuery':
          await this.#send({ kind: 'SimpleQueryAck', value: this.#options.deviceLogs ? 1 : LOG_CONFIG_OFF });
          break;
        case 'LogEntry':
          this.#result.deviceLogs.push(message.text);
          this.#report({ kind: 'device-log', text: message.text });
          break;
        case 'ImageRequestCapability':
          this.#enter('capability');
          if (this.#options.capability) {
            this.#result.capabilitySent = true;
            await this.#serve('capability image', this.#options.capability, message.offset, message.maxLength);
          } else {
            await this.#send({ kind: 'ImageRequestError' });
          }
          break;
        case 'ImageRequestRecoveryApp':
          await this.#serveByName(RECOVERY_RUNTIME_FILE, message.offset, message.maxLength);
          break;
        case 'ImageRequestManifest':
          await this.#serveByName(RECOVERY_MANIFEST_FILE, message.offset, message.maxLength);
          break;
        case 'ImageRequestByFilename':
          await this.#serveByName(message.filename, message.offset, message.maxLength);
          break;
        case 'BaudrateSwitchQuery':
          await this.#switchLine();
          break;
        case 'StatusRequest':
          this.#enter('status');
          await this.#send({ kind: 'ServerReady' });
          break;
        case 'ProgressUpdate':
          this.#device = {
            imagesRemaining: message.imagesRemaining,
            imageCount: message.imageCount,
            bytesRemaining: message.bytesRemaining,
            totalBytes: message.totalBytes,
          };
          this.#result.imageCount = message.imageCount;
          this.#result.totalBytes = message.totalBytes;
          if (message.imagesRemaining === 0) {
            this.#imagesDoneAt = performance.now();
            this.#enter('complete');
            this.#nextMessageMs = this.#timeouts.writeMs;
          }
          this.#report({ kind: 'device-progress' });
          break;
        case 'RecoveryError':
          throw new DeviceRefusedRecovery(message.code, message.text);
        case 'RecoveryComplete':
          return;
        case 'Unknown':
          log.debug('ignoring an Unknown message from the device', { bytes: message.data.length });
          break;
        default:
          throw new RigError('device-fault', 'recovery-protocol-violation', `the device sent ${message.kind}, a host message`);
      }
    }
  }

  #onEvent(event: number): void {
    this.#result.events.push(event);
    if (event === RecoveryEventCode.RAEraseFlashStarted) {
      this.#enter('erase');
      this.#nextMessageMs = this.#timeouts.eraseMs;
    }
    if (event === RecoveryEventCode.RARecoveryComplete) this.#enter('complete');
    this.#report({ kind: 'device-event', event, eventName: recoveryEventName(event) });
  }

  /**
   * Answers the baud query, then reopens the port with the agreed settings. The
   * device waits for the host's line before it talks again; a device that resends
   * the query (its answer was lost) is answered again, the line already switched.
   */
  async #switchLine(): Promise<void> {
    this.#enter('line-switch');
    const lowSpeed = this.#options.lowSpeed === true;
    await this.#send({ kind: 'SimpleQueryAck', value: lowSpeed ? BAUDRATE_STAY_115200 : BAUDRATE_SWITCH_3M });
    const settings = lowSpeed ? LOW_SPEED_IMAGING_LINE : FAST_IMAGING_LINE;
    await this.#line!.reconfigure(settings, { timeoutMs: this.#timeouts.portOpenMs, signal: this.#signal });
    this.#decoder.reset();
    this.#result.line = settings;
  }

  async #serveByName(name: string, offset: number, maxLength: number): Promise<void> {
    const lower = name.toLowerCase();
    if (lower === RECOVERY_RUNTIME_FILE) this.#enter('runtime');
    else if (lower === RECOVERY_MANIFEST_FILE) this.#enter('manifest');
    else {
      this.#enter('images');
      this.#imagesStartedAt ??= performance.now();
    }
    const data = this.#images.file(name);
    if (!data) {
      log.warn('the device asked for a file the set does not have', { name, images: this.#images.description });
      await this.#send({ kind: 'ImageRequestError' });
      return;
    }
    await this.#serve(name, data, offset, maxLength);
  }

  async #serve(name: string, data: Buffer, offset: number, maxLength: number): Promise<void> {
    if (offset > data.length) {
      await this.#send({ kind: 'ImageRequestError' });
      return;
    }
    const sendLength = Math.min(maxLength, data.length - offset);
    await this.#send({ kind: 'ImageRequestAck', start: offset, sendLength, totalLength: data.length });
    await this.#sendXmodem(name, data, offset, sendLength);
  }

  async #sendXmodem(name: string, data: Buffer, offset: number, length: number): Promise<void> {
    const chunk = data.subarray(offset, offset + length);
    const before = this.#result.xmodemBytes;
    try {
      const sent = await sendXmodem(this.#channel, chunk, {
        signal: this.#signal,
        startTimeoutMs: this.#timeouts.xmodemStartMs,
        responseTimeoutMs: this.#timeouts.xmodemResponseMs,
        onProgress: (sentBytes) => {
          this.#result.xmodemBytes = before + sentBytes;
          this.#report({ kind: 'transfer', file: name, fileBytes: data.length, chunkOffset: offset, chunkBytes: length, chunkSentBytes: sentBytes });
        },
      });
      this.#result.retransmissions += sent.retransmissions;
    } catch (error) {
      // A device that cancels a transfer says why in a RecoveryError right after.
      if (error instanceof XmodemError && error.code === 'xmodem-cancelled-by-peer' && this.#inControlStage) {
        const why = await this.#readMessage(REFUSAL_GRACE_MS).catch(() => undefined);
        if (why?.kind === 'RecoveryError') throw new DeviceRefusedRecovery(why.code, why.text);
      }
      throw error;
    }
  }

  async #readMessage(timeoutMs: number): Promise<RecoveryMessage> {
    let envelope;
    try {
      envelope = await readFrameMessage(this.#channel, this.#decoder, { timeoutMs, signal: this.#signal });
    } catch (error) {
      if (error instanceof LinkTimeoutError) throw new LinkTimeoutError('waiting for the next message from the device', timeoutMs, error.details);
      throw error;
    }
    const message = decodeRecoveryMessage(envelope);
    if (!isClientMessageType(envelope.type)) {
      throw new RigError('device-fault', 'recovery-protocol-violation', `the device sent ${message.kind}, a host message`);
    }
    return message;
  }

  async #send(message: RecoveryMessage): Promise<void> {
    await this.#channel.write(encodeFrame(encodeRecoveryMessage(message)), { signal: this.#signal });
  }

  #requireFile(name: string): Buffer {
    const data = this.#images.file(name);
    if (!data) throw new RigError('infra-error', 'recovery-images-incomplete', `${this.#images.description}: ${name} is missing`);
    return data;
  }

  #enter(step: RecoveryStep): void {
    if (this.#step === step) return;
    this.#step = step;
    log.debug('recovery step', { step });
    this.#report({ kind: 'step' });
  }

  #report(progress: Omit<RecoveryProgress, 'stage' | 'xmodemBytes'>): void {
    const onProgress = this.#options.onProgress;
    if (!onProgress) return;
    try {
      onProgress({ ...this.#device, ...progress, stage: this.#step, xmodemBytes: this.#result.xmodemBytes });
    } catch (error) {
      log.warn('progress callback threw', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The typed error for whatever ended the recovery; tells the device to stop when the host gives up. */
  async #fail(error: unknown): Promise<RecoveryFailedError> {
    const overallTimedOut = this.#overall?.aborted === true && this.#options.signal?.aborted !== true;
    const cancelled = error instanceof LinkCancelledError || this.#signal.aborted;
    if (cancelled && this.#inControlStage && this.#line && !this.#channel.closed) {
      await this.#channel
        .write(encodeFrame(encodeRecoveryMessage({ kind: 'AbortRecovery' })), { timeoutMs: GOODBYE_TIMEOUT_MS })
        .catch(() => undefined);
    }
    const lost = this.#line?.lostReason;
    const extra: Record<string, unknown> = {
      ...(this.#result.deviceId ? { deviceId: this.#result.deviceId } : {}),
      xmodemBytes: this.#result.xmodemBytes,
      ...(lost ? { lost } : {}),
    };
    if (overallTimedOut) {
      return new RecoveryFailedError(this.#step, 'timeout', 'recovery-timeout', `the recovery took longer than ${this.#options.timeoutMs} ms`, extra, { cause: error });
    }
    if (lost && !(error instanceof DeviceRefusedRecovery)) {
      return new RecoveryFailedError(this.#step, 'infra-error', 'recovery-port-lost', lost, extra, { cause: error });
    }
    if (error instanceof MalformedDataError) {
      return new RecoveryFailedError(this.#step, 'device-fault', error.code, `the device sent a malformed message: ${error.message}`, extra, { cause: error });
    }
    return recoveryFailure(this.#step, error, extra);
  }
}
