import type { TrustedKeystore } from '../../pki/trusted-keystore.js';

/**
 * What the recovery ROM needs of the board it runs on: the chip's identity, its
 * e-fused trust and fuse counters, the flash (through the board model, so every
 * operation is counted and power cuts apply) and its recovery UART's line.
 * The board service adapts an EmulatedBoard and its PtyUart to this; tests give
 * a plain object.
 */
export interface UartLineSettings {
  baudRate: number;
  rtsCts: boolean;
}

/** The host's termios as the device side of a pty can read them (see pty-termios.ts). */
export interface ObservedHostLine {
  /** null: a non-standard rate the pty cannot report. */
  baudRate: number | null;
  rtsCts: boolean;
  stopBits: 1 | 2;
}

export interface RecoveryTarget {
  /** 128 hex characters. */
  readonly deviceId: string;
  /** The ROM's trust: the OS signing certificate(s) e-fused in the chip. */
  romTrust(): TrustedKeystore;
  /** Anti-rollback counters per component ID. */
  fuses(): Readonly<Record<string, number>>;
  /** Most bytes an OS image set may take in flash. */
  readonly imageSetCapacity: number;
  /** Wipes the OS slots, the boot-control record and the app slots. */
  eraseFlash(): Promise<void>;
  /** How long the whole erase takes this board (about 18 s on a real one); absent: as long as eraseFlash takes. */
  eraseDurationMs?(): number;
  /** Writes a verified OS image set (boot order) and installs the capability image, if any. */
  writeImageSet(osImages: Buffer[], capability: Buffer | undefined): Promise<void>;
  /** The device's own UART settings from now on (the pacing baud under real timing). */
  setLineSettings(settings: UartLineSettings): void;
  /** The host's line settings; absent where the device cannot observe them. */
  readHostLineSettings?(signal: AbortSignal | undefined): Promise<ObservedHostLine>;
}
