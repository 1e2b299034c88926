import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BANK_SIZE } from '../firmware/device-log/device-log-layout.js';
import { encodeLogMessage } from '../firmware/device-log/device-log-entry.js';
import { DeviceLogRing } from '../firmware/device-log/device-log-ring.js';
import type { GuidByteOrder } from '../firmware/device-log/log-param-codec.js';
import { componentLogger } from '../util/logger.js';
import type { EmulatedBoard } from './emulated-board.js';
import { osLogMessage, type OsLogEvent } from './os-log-messages.js';

/**
 * The board's device log, kept as the device keeps it (device-log-format.md):
 * a ring of 4096-byte banks in `device-log.bin` in the board's state folder,
 * beside its flash, so it survives resets, power cuts, recoveries and emulator
 * restarts, and goes with the chip when its folder is deleted. Each `os-log`
 * event of the board becomes one entry, timestamped with the board-clock
 * uptime in ms. GET /log serves the whole file.
 *
 * Choices the spec leaves open (section 10): 16 banks (64 KiB); status left
 * erased (0xFFFF); byte 2 written 0; GUIDs in canonical (device) byte order
 * unless `guidOrder: 'parser'`.
 */
export const DEVICE_LOG_FILE = 'device-log.bin';
export const DEVICE_LOG_BANKS = 16;

export interface DeviceLogOptions {
  banks?: number;
  guidOrder?: GuidByteOrder;
}

export class DeviceLogRecorder {
  readonly #ring: DeviceLogRing;
  readonly #fd: number;
  readonly #guidOrder: GuidByteOrder;
  readonly #onEvent: (event: OsLogEvent) => void;
  readonly #log;

  private constructor(
    private readonly board: EmulatedBoard,
    ring: DeviceLogRing,
    fd: number,
    options: DeviceLogOptions,
  ) {
    this.#ring = ring;
    this.#fd = fd;
    this.#guidOrder = options.guidOrder ?? 'canonical';
    this.#log = componentLogger(`device-log:${board.name}`);
    this.#onEvent = (event) => this.record(event);
    board.on('os-log', this.#onEvent);
  }

  /** Opens (or starts) the log in the board's state folder and subscribes to the board. */
  static open(board: EmulatedBoard, options: DeviceLogOptions = {}): DeviceLogRecorder {
    const banks = options.banks ?? DEVICE_LOG_BANKS;
    const path = join(board.dir, DEVICE_LOG_FILE);
    const rw = openSync(path, existsSync(path) ? 'r+' : 'w+');
    let ring: DeviceLogRing;
    const size = fstatSync(rw).size;
    if (size === banks * BANK_SIZE) {
      const bytes = Buffer.alloc(size);
      readSync(rw, bytes, 0, size, 0);
      ring = DeviceLogRing.resume(bytes);
    } else {
      // A new chip, or a log of another size: start an erased one (a real part's LogStorage is fixed).
      if (size !== 0) componentLogger(`device-log:${board.name}`).warn('device log of another size replaced', { path, size });
      ring = DeviceLogRing.erased(banks);
      writeSync(rw, ring.bytes, 0, ring.bytes.length, 0);
    }
    return new DeviceLogRecorder(board, ring, rw, options);
  }

  /** The whole log, as GET /log serves it. */
  bytes(): Buffer {
    return Buffer.from(this.#ring.bytes);
  }

  /** Writes one entry; a message the encoder refuses is dropped with a warning (the board goes on). */
  record(event: OsLogEvent): void {
    const { manifest, priority } = osLogMessage(event.message);
    let entry: Buffer;
    try {
      entry = encodeLogMessage(manifest, event.args, { priority, timestampMs: event.uptimeMs, guidOrder: this.#guidOrder });
    } catch (error) {
      this.#log.warn('device log entry dropped', { message: event.message, error: (error as Error).message });
      return;
    }
    for (const bank of this.#ring.append(entry)) writeSync(this.#fd, this.#ring.bank(bank), 0, BANK_SIZE, bank * BANK_SIZE);
  }

  close(): void {
    this.board.off('os-log', this.#onEvent);
    closeSync(this.#fd);
  }
}
