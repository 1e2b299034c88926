import type { BoardPins } from '../../../src/device/board-pins.js';
import type { RecoveryImageSource } from '../../../src/device/recovery-image-folder.js';
import { ROM_LINE, type RecoveryLine, type RecoveryLineSettings } from '../../../src/device/recovery-line.js';
import { runRecoveryRom, type RecoveryRomTimings } from '../../../src/emulator/recovery/recovery-rom.js';
import type { RecoveryAgentResult } from '../../../src/emulator/recovery/recovery-agent.js';
import type { ObservedHostLine, RecoveryTarget, UartLineSettings } from '../../../src/emulator/recovery/recovery-target.js';
import { keystoreBodyFor } from '../../../src/firmware/rig-keystore.js';
import { buildRecoveryImageSet, type RecoveryImageSet } from '../../../src/firmware/recovery-image-set.js';
import { createChannelPair, type ChannelPairOptions, type MemoryChannel, type WriteInfo } from '../../../src/link/memory-channel.js';
import { decodeFrameMessage } from '../../../src/link/recovery-frame.js';
import { decodeRecoveryMessage, type RecoveryMessage } from '../../../src/link/recovery-messages.js';
import { SOH, XMODEM_PACKET_BYTES } from '../../../src/link/xmodem.js';
import { rawSignerFor } from '../../../src/pki/raw-signer.js';
import { publicKeyToPoint, generateSigningKeyPair } from '../../../src/pki/signing-key.js';
import { findSigningRole, generateSigningRoles, type RoleKeys } from '../../../src/pki/signing-roles.js';
import { TrustedKeystore } from '../../../src/pki/trusted-keystore.js';

/**
 * The recovery ROM and the recovery client on an in-memory channel pair: no
 * ptys, no emulator process, so the protocol itself can be driven, watched and
 * faulted byte by byte. The "board" is a plain RecoveryTarget that records what
 * the ROM asked of its flash.
 */

/** The host's side of a memory pair as a RecoveryLine: reconfigure only records the settings. */
export class MemoryRecoveryLine implements RecoveryLine {
  settings: RecoveryLineSettings = ROM_LINE;
  readonly lostReason = undefined;
  readonly history: RecoveryLineSettings[] = [];

  constructor(readonly channel: MemoryChannel) {}

  async flush(): Promise<void> {
    this.channel.discard();
  }

  async reconfigure(settings: RecoveryLineSettings): Promise<void> {
    this.settings = settings;
    this.history.push(settings);
  }

  async close(): Promise<void> {
    await this.channel.close();
  }
}

/** A board as the ROM sees it, recording erases and writes. */
export class RecordingTarget implements RecoveryTarget {
  readonly deviceId: string;
  readonly imageSetCapacity = 6 * 1024 * 1024 - 4096;
  fuseCounters: Record<string, number> = {};
  erases = 0;
  written: { images: Buffer[]; capability: Buffer | undefined } | undefined;
  readonly lineHistory: UartLineSettings[] = [];
  /** What readHostLineSettings answers instead of the attached line's current settings. */
  hostLine: (() => ObservedHostLine) | undefined;
  /** The host line of the rig this board is on now. */
  attachedLine: MemoryRecoveryLine | undefined;

  constructor(
    private readonly trust: TrustedKeystore,
    deviceId?: string,
  ) {
    this.deviceId = deviceId ?? publicKeyToPoint(generateSigningKeyPair().publicKey).toString('hex');
  }

  romTrust(): TrustedKeystore {
    return this.trust;
  }

  fuses(): Readonly<Record<string, number>> {
    return this.fuseCounters;
  }

  async eraseFlash(): Promise<void> {
    this.erases += 1;
    this.written = undefined;
  }

  /** How long the agent is to let the erase take (RecoveryTarget.eraseDurationMs). */
  eraseMs = 0;

  eraseDurationMs(): number {
    return this.eraseMs;
  }

  async writeImageSet(images: Buffer[], capability: Buffer | undefined): Promise<void> {
    this.written = { images, capability };
  }

  setLineSettings(settings: UartLineSettings): void {
    this.lineHistory.push(settings);
  }

  async readHostLineSettings(): Promise<ObservedHostLine> {
    if (this.hostLine) return this.hostLine();
    if (!this.attachedLine) throw new Error('no host line attached');
    const { baudRate, rtsCts } = this.attachedLine.settings;
    return { baudRate, rtsCts, stopBits: 1 };
  }
}

/** Keys, a trusting target and a builder of recovery sets signed by any role set. */
export class RecoveryKeys {
  private constructor(
    readonly roles: RoleKeys[],
    readonly foreign: RoleKeys[],
  ) {}

  static async generate(): Promise<RecoveryKeys> {
    return new RecoveryKeys(await generateSigningRoles(), await generateSigningRoles());
  }

  romTrust(): TrustedKeystore {
    return TrustedKeystore.of([{ cert: findSigningRole(this.roles, 'os').cert, role: 'os' }]);
  }

  /** A set signed with the OS key the ROM trusts (or, `foreign`, with one it does not). */
  set(osVersion: string, options: { foreign?: boolean; securityVersion?: number; bodyScale?: number } = {}): RecoveryImageSet {
    const roles = options.foreign ? this.foreign : this.roles;
    return buildRecoveryImageSet(
      { osVersion, securityVersion: options.securityVersion ?? 1, keystorePem: keystoreBodyFor(this.roles, false), bodyScale: options.bodyScale ?? 1 },
      rawSignerFor(findSigningRole(roles, 'os')),
    );
  }
}

/** Serves a set's files from memory; `replace` swaps or drops one by name. */
export function memorySource(set: RecoveryImageSet, replace: Record<string, Buffer | null> = {}): RecoveryImageSource {
  const files = new Map(set.files.map((file) => [file.name, file.bytes]));
  for (const [name, bytes] of Object.entries(replace)) {
    if (bytes === null) files.delete(name);
    else files.set(name, bytes);
  }
  return { description: `memory set ${set.osVersion}`, file: (name) => files.get(name.toLowerCase()) };
}

/** Every frame one side wrote, decoded, with when it was written; XMODEM bytes and text lines are left out. */
export class WireLog {
  readonly frames: Array<{ bytes: Buffer; message: RecoveryMessage; at: number }> = [];
  readonly writes: Buffer[] = [];

  readonly record = (data: Buffer, _info: WriteInfo): undefined => {
    this.writes.push(Buffer.from(data));
    if (data.length > 0 && data[data.length - 1] === 0 && !(data.length === XMODEM_PACKET_BYTES && data[0] === SOH)) {
      try {
        this.frames.push({ bytes: Buffer.from(data), message: decodeRecoveryMessage(decodeFrameMessage(data)), at: performance.now() });
      } catch {
        // Not a frame.
      }
    }
    return undefined;
  };

  kinds(): string[] {
    return this.frames.map((f) => (f.message.kind === 'RecoveryEvent' ? `RecoveryEvent ${f.message.event}` : f.message.kind));
  }
}

/** Fast device timings for tests. */
export const TEST_ROM_TIMINGS: Partial<RecoveryRomTimings> = {
  answerTimeoutMs: 2_000,
  promptIntervalMs: 50,
  xmodemPacketTimeoutMs: 500,
  romPromptWindowMs: 2_000,
  lineSwitchTimeoutMs: 500,
};

/**
 * One memory pair with a ROM behind pins: reset with the strap high starts a
 * ROM session on the device end, as the board service does.
 */
export class MemoryRecoveryRig {
  readonly host: MemoryChannel;
  readonly device: MemoryChannel;
  readonly line: MemoryRecoveryLine;
  strap = false;
  session: Promise<RecoveryAgentResult> | undefined;
  readonly pins: BoardPins;
  private controller: AbortController | undefined;

  constructor(
    readonly target: RecordingTarget,
    options: ChannelPairOptions & { timings?: Partial<RecoveryRomTimings>; chunkBytes?: number } = {},
  ) {
    [this.host, this.device] = createChannelPair({ name: 'recovery', ...options });
    this.line = new MemoryRecoveryLine(this.host);
    target.attachedLine = this.line;
    const timings = { ...TEST_ROM_TIMINGS, ...options.timings };
    this.pins = {
      setRecoveryStrap: async (high) => {
        this.strap = high;
      },
      reset: async () => {
        this.controller?.abort();
        if (!this.strap) return;
        const controller = new AbortController();
        this.controller = controller;
        this.session = runRecoveryRom(this.device, target, { timings, signal: controller.signal, chunkBytes: options.chunkBytes });
        // Tests look at the outcome when they care; an unobserved failure must not crash the run.
        this.session.catch(() => undefined);
      },
    };
  }

  stop(): void {
    this.controller?.abort();
  }
}
