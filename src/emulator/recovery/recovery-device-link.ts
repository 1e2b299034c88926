import type { ByteChannel } from '../../link/byte-channel.js';
import { Deadline } from '../../link/deadline.js';
import { LinkTimeoutError } from '../../link/link-errors.js';
import { RecoveryErrorCode } from '../../link/recovery-error-codes.js';
import { encodeFrame, FrameDecoder } from '../../link/recovery-frame.js';
import { readFrameMessage } from '../../link/recovery-frame-reader.js';
import {
  decodeRecoveryMessage,
  encodeRecoveryMessage,
  IMAGE_REQUEST_ANY_LENGTH,
  isServerMessageType,
  type RecoveryMessage,
  type RecoveryMessageOf,
  type ServerMessageKind,
} from '../../link/recovery-messages.js';
import { receiveXmodem } from '../../link/xmodem-receiver.js';
import { sendXmodemCancel, XmodemError } from '../../link/xmodem.js';
import { HostAbortedRecovery, RecoveryRefusal } from './recovery-refusal.js';

/**
 * The device's side of the recovery control protocol on one channel: it sends
 * framed messages, reads the host's answers (frames with a bad CRC are dropped,
 * as the spec asks), and pulls files by XMODEM after an ImageRequestAck.
 * Everything the host does wrong becomes a RecoveryRefusal naming the step, so
 * the session can tell the host why before it ends.
 */
export interface DeviceLinkTimings {
  /** How long the host may take to answer a message. */
  answerTimeoutMs: number;
  /** 'C' prompt cadence while waiting for an XMODEM sender. */
  promptIntervalMs: number;
  /** How long the sender may pause between packets before the device NAKs. */
  xmodemPacketTimeoutMs: number;
}

/** One file request: the capability image, or a file by name. */
export type FileRequest = { kind: 'ImageRequestCapability' } | { kind: 'ImageRequestByFilename'; filename: string };

export interface FetchLimits {
  /** The file must have exactly this length (an image of the manifest). */
  exactLength?: number;
  /** Refuse longer files with `tooLongCode` (it would not fit where it goes). */
  maxLength: number;
  tooLongCode?: number;
  /** Ask for at most this many bytes per request (the real device asks for 20,480). */
  chunkBytes?: number;
  /** After each chunk: bytes of the file received so far. */
  onChunk?: (receivedBytes: number, fileLength: number) => void;
}

export interface AskOptions {
  /**
   * Send the message again when no answer came within this long. A real board
   * sends every query once (recovery-protocol.md, captured facts); this is kept
   * so that hosts can be tested against the emulator's earlier, resending agent.
   */
  resendAfterMs?: number;
  /** Sends in all, the first included. */
  maxSends?: number;
}

export class RecoveryDeviceLink {
  private readonly decoder = new FrameDecoder();
  /** Answers a resent message may still bring: skipped once each, never an error. */
  private readonly strays = new Map<ServerMessageKind, number>();
  /** Whether the host asked for LogEntry messages (LogConfigQuery answered non-zero). */
  logsEnabled = false;

  constructor(
    readonly channel: ByteChannel,
    private readonly timings: DeviceLinkTimings,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Frames the host sent that were dropped (bad CRC, bad COBS). */
  get droppedFrames(): number {
    return this.decoder.framesDropped;
  }

  async send(message: RecoveryMessage): Promise<void> {
    await this.channel.write(encodeFrame(encodeRecoveryMessage(message)), { signal: this.signal });
  }

  /** A LogEntry, if the host turned device logging on. */
  async log(text: string): Promise<void> {
    if (this.logsEnabled) await this.send({ kind: 'LogEntry', text });
  }

  /** The host's next message that is one of `kinds`; AbortRecovery ends the session. */
  async expect<K extends ServerMessageKind>(kinds: readonly K[], step: string, timeoutMs = this.timings.answerTimeoutMs): Promise<RecoveryMessageOf<K>> {
    const deadline = new Deadline(timeoutMs);
    for (;;) {
      let envelope;
      try {
        envelope = await readFrameMessage(this.channel, this.decoder, { timeoutMs: deadline.remainingMs(), signal: this.signal });
      } catch (error) {
        if (error instanceof LinkTimeoutError) {
          throw new RecoveryRefusal(RecoveryErrorCode.GetServerResponseTimedOut, `${step}: no answer from the host within ${timeoutMs} ms`);
        }
        throw error;
      }
      let message: RecoveryMessage;
      try {
        message = decodeRecoveryMessage(envelope);
      } catch (error) {
        throw RecoveryRefusal.protocol(`${step}: ${(error as Error).message}`);
      }
      if (!isServerMessageType(envelope.type)) throw RecoveryRefusal.protocol(`${step}: the host sent ${message.kind}, a device message`);
      const kind = message.kind as ServerMessageKind;
      if (kind === 'AbortRecovery') throw new HostAbortedRecovery(step);
      if ((kinds as readonly string[]).includes(kind)) return message as RecoveryMessageOf<K>;
      const strays = this.strays.get(kind) ?? 0;
      if (strays > 0) {
        this.strays.set(kind, strays - 1);
        continue;
      }
      throw RecoveryRefusal.protocol(`${step}: expected ${kinds.join(' or ')}, the host sent ${kind}`);
    }
  }

  /** Sends `message` and returns the answer, resending as `options` allow. */
  async ask<K extends ServerMessageKind>(message: RecoveryMessage, kinds: readonly K[], step: string, options: AskOptions = {}): Promise<RecoveryMessageOf<K>> {
    const maxSends = Math.max(1, options.maxSends ?? 1);
    for (let send = 1; ; send += 1) {
      await this.send(message);
      const last = send >= maxSends;
      try {
        return await this.expect(kinds, step, last ? this.timings.answerTimeoutMs : (options.resendAfterMs ?? this.timings.answerTimeoutMs));
      } catch (error) {
        if (last || !(error instanceof RecoveryRefusal) || error.recoveryCode !== RecoveryErrorCode.GetServerResponseTimedOut) throw error;
        // The first send may still be answered after the second: skip that answer when it comes.
        for (const kind of kinds) this.strays.set(kind, (this.strays.get(kind) ?? 0) + 1);
      }
    }
  }

  /**
   * Pulls one file, in chunks when `limits.chunkBytes` says so: a request, the
   * host's ImageRequestAck (start, sendLength, totalLength), then the chunk by
   * XMODEM. Resolves undefined when the host has no such file (ImageRequestError).
   */
  async fetch(request: FileRequest, limits: FetchLimits, step: string): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let offset = 0;
    let fileLength: number | undefined;
    do {
      const maxLength = limits.chunkBytes ?? IMAGE_REQUEST_ANY_LENGTH;
      const message: RecoveryMessage =
        request.kind === 'ImageRequestCapability'
          ? { kind: 'ImageRequestCapability', offset, maxLength }
          : { kind: 'ImageRequestByFilename', offset, maxLength, filename: request.filename };
      const answer = await this.ask(message, ['ImageRequestAck', 'ImageRequestError'] as const, step);
      if (answer.kind === 'ImageRequestError') {
        if (offset === 0) return undefined;
        throw RecoveryRefusal.protocol(`${step}: the host refused the rest of the file at offset ${offset}`);
      }
      try {
        fileLength ??= this.checkFileLength(answer.totalLength, limits, step);
        this.checkAck(answer, offset, maxLength, fileLength, step);
      } catch (error) {
        // The host sends the file right after its ack: cancel that transfer so it reads the refusal.
        await sendXmodemCancel(this.channel);
        throw error;
      }
      const { sendLength } = answer;
      parts.push(await this.receive(sendLength, step));
      offset += sendLength;
      limits.onChunk?.(offset, fileLength);
    } while (offset < fileLength);
    return Buffer.concat(parts, fileLength);
  }

  private checkFileLength(totalLength: number, limits: FetchLimits, step: string): number {
    if (limits.exactLength !== undefined && totalLength !== limits.exactLength) {
      throw new RecoveryRefusal(RecoveryErrorCode.BadImageFileSize, `${step}: the host offers ${totalLength} bytes, the manifest says ${limits.exactLength}`);
    }
    if (totalLength > limits.maxLength) {
      throw new RecoveryRefusal(limits.tooLongCode ?? RecoveryErrorCode.ReceiveBufferTooSmall, `${step}: ${totalLength} bytes is more than the ${limits.maxLength} this device takes`);
    }
    return totalLength;
  }

  private checkAck(answer: RecoveryMessageOf<'ImageRequestAck'>, offset: number, maxLength: number, fileLength: number, step: string): void {
    const { start, sendLength, totalLength } = answer;
    if (start !== offset || totalLength !== fileLength || sendLength > maxLength || start + sendLength > totalLength || (sendLength === 0 && offset < totalLength)) {
      throw RecoveryRefusal.protocol(
        `${step}: ImageRequestAck start ${start}, sendLength ${sendLength}, totalLength ${totalLength} does not answer a request for ${maxLength} bytes at ${offset} of ${fileLength}`,
      );
    }
  }

  /** One XMODEM transfer of exactly `length` bytes. */
  private async receive(length: number, step: string): Promise<Buffer> {
    try {
      const result = await receiveXmodem(this.channel, {
        signal: this.signal,
        expectedLength: length,
        promptIntervalMs: this.timings.promptIntervalMs,
        startTimeoutMs: this.timings.answerTimeoutMs,
        packetTimeoutMs: this.timings.xmodemPacketTimeoutMs,
      });
      return result.data;
    } catch (error) {
      if (error instanceof XmodemError) throw new RecoveryRefusal(RecoveryErrorCode.FileTransferFailed, `${step}: ${error.message}`);
      if (error instanceof LinkTimeoutError) throw new RecoveryRefusal(RecoveryErrorCode.GetServerResponseTimedOut, `${step}: the host never started the transfer`);
      throw error;
    }
  }
}
