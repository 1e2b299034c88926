import { LinkClosedError } from './link-errors.js';
import { QueueBackedChannel, type QueueBackedChannelOptions } from './queue-backed-channel.js';

/** Where one write falls in the byte stream a channel sends. */
export interface WriteInfo {
  /** 0 for the first write this channel made. */
  writeIndex: number;
  /** Stream offset of the write's first byte: bytes this channel wrote before it. */
  offset: number;
}

/**
 * Faults applied to the bytes one channel of a pair sends, in this order:
 * dropWrites, corruptBytes, intercept. Change them at any time through `faults`.
 */
export interface LinkFaults {
  /** Writes (by index) that vanish on the way, as if the line dropped them. */
  dropWrites?: readonly number[];
  /** Stream offsets of bytes that arrive with every bit flipped (XOR 0xff). */
  corruptBytes?: readonly number[];
  /** Sees each write as it will arrive; return replacement bytes, null to lose it, undefined to keep it. */
  intercept?: (data: Buffer, info: WriteInfo) => Uint8Array | null | undefined;
}

export interface ChannelPairOptions extends QueueBackedChannelOptions {
  /** Faults on the bytes the first channel sends to the second. */
  aToB?: LinkFaults;
  /** Faults on the bytes the second channel sends to the first. */
  bToA?: LinkFaults;
  /** Deliver each write in pieces of at most this many bytes (1: byte by byte), as a UART would. */
  deliveryChunkBytes?: number;
}

/**
 * One end of an in-memory link. A write is delivered to the peer's queue before the
 * write resolves; closing one end ends the peer's input, so its reads fail as they
 * would when a host vanishes.
 */
export class MemoryChannel extends QueueBackedChannel {
  faults: LinkFaults;
  private peer: MemoryChannel | undefined;
  private writes = 0;
  private written = 0;
  private readonly deliveryChunkBytes: number;

  constructor(name: string, faults: LinkFaults, options: ChannelPairOptions) {
    super(name, { ...options, name });
    this.faults = faults;
    this.deliveryChunkBytes = Math.max(1, options.deliveryChunkBytes ?? Number.POSITIVE_INFINITY);
  }

  /** Writes made so far (lost ones included). */
  get writeCount(): number {
    return this.writes;
  }

  /** Bytes written so far, before any fault. */
  get bytesWritten(): number {
    return this.written;
  }

  /** Joins two channels; used by createChannelPair. */
  connect(peer: MemoryChannel): void {
    this.peer = peer;
  }

  protected writeBytes(data: Buffer, done: (error?: unknown) => void): void {
    const peer = this.peer;
    if (!peer || peer.closed) {
      done(new LinkClosedError(`${this.name}: writing (the other end is closed)`));
      return;
    }
    const info: WriteInfo = { writeIndex: this.writes, offset: this.written };
    this.writes += 1;
    this.written += data.length;
    const arriving = this.applyFaults(data, info);
    if (arriving) {
      for (let at = 0; at < arriving.length; at += this.deliveryChunkBytes) {
        peer.received(arriving.subarray(at, at + this.deliveryChunkBytes));
      }
    }
    done();
  }

  protected async closeTransport(): Promise<void> {
    this.peer?.transportEnded(new LinkClosedError(`${this.peer.name}: the other end closed`));
  }

  private applyFaults(data: Buffer, info: WriteInfo): Uint8Array | null {
    const { dropWrites, corruptBytes, intercept } = this.faults;
    if (dropWrites?.includes(info.writeIndex)) return null;
    let bytes = data;
    for (const offset of corruptBytes ?? []) {
      const at = offset - info.offset;
      if (at >= 0 && at < bytes.length) {
        if (bytes === data) bytes = Buffer.from(data);
        bytes[at] ^= 0xff;
      }
    }
    if (!intercept) return bytes;
    const replaced = intercept(bytes, info);
    return replaced === undefined ? bytes : replaced;
  }
}

/** Two connected channels: what one writes, the other reads. */
export function createChannelPair(options: ChannelPairOptions = {}): [MemoryChannel, MemoryChannel] {
  const a = new MemoryChannel(`${options.name ?? 'memory'} a`, options.aToB ?? {}, options);
  const b = new MemoryChannel(`${options.name ?? 'memory'} b`, options.bToA ?? {}, options);
  a.connect(b);
  b.connect(a);
  return [a, b];
}
