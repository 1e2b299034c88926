import { FormatError } from './format-error.js';
import { guidFromBytes, guidToBytes } from './guid.js';
import { type AbiEntry, checkU16, checkU32 } from './metadata-sections.js';

/**
 * The body of `recovery.imagemanifest` (an image of type 26):
 *   header: u16 version (3) | u16 imageCount | u16 headerSize | u16 entrySize | u64 buildDate
 *   entry:  16-byte imageId | 16-byte componentId | u16 imageType | u16 partitionType
 *           | u32 fileSize | u32 uncompressedSize | {u32 version, u32 type} provides[2]
 *           | {u32 version, u32 type} dependsOn[2]
 * headerSize and entrySize are honoured when reading so that a newer layout with
 * longer records still parses.
 */
export const RECOVERY_MANIFEST_VERSION = 3;
const HEADER_BYTES = 16;
const ENTRY_BYTES = 76;
const ABI_SLOTS = 2;

export const PartitionType = {
  Firmware: 1,
  Backups: 2,
  Applications: 4,
  LogStorage: 5,
  NwConfig: 6,
  BootloaderOne: 7,
  BootloaderOneBackup: 8,
  LocatorTable: 9,
  LocatorTableBackup: 10,
  BlockHashes: 11,
  BlockHashesBackup: 12,
  BootManifest: 13,
  BootManifestBackup: 14,
  TelemetryStorage: 15,
} as const;

export interface RecoveryManifestEntry {
  imageId: string;
  componentId: string;
  imageType: number;
  partitionType: number;
  fileSize: number;
  uncompressedSize: number;
  /** Up to two entries; empty slots (version 0, type 0) are left out. */
  provides: AbiEntry[];
  dependsOn: AbiEntry[];
}

export interface RecoveryManifest {
  version: number;
  buildDate: Date;
  entries: RecoveryManifestEntry[];
}

export function parseRecoveryManifest(body: Buffer): RecoveryManifest {
  if (body.length < HEADER_BYTES) {
    throw new FormatError('recovery-manifest-truncated', `recovery manifest body is ${body.length} bytes; its header is ${HEADER_BYTES}`, {
      offset: body.length,
    });
  }
  const version = body.readUInt16LE(0);
  if (version !== RECOVERY_MANIFEST_VERSION) {
    throw new FormatError('recovery-manifest-version', `recovery manifest version ${version} is not supported (expected 3)`, { offset: 0 });
  }
  const count = body.readUInt16LE(2);
  const headerSize = body.readUInt16LE(4);
  const entrySize = body.readUInt16LE(6);
  if (headerSize < HEADER_BYTES) {
    throw new FormatError('recovery-manifest-header-size', `header size ${headerSize} is below ${HEADER_BYTES}`, { offset: 4 });
  }
  if (entrySize < ENTRY_BYTES) {
    throw new FormatError('recovery-manifest-entry-size', `entry size ${entrySize} is below ${ENTRY_BYTES}`, { offset: 6 });
  }
  if (headerSize + count * entrySize > body.length) {
    throw new FormatError(
      'recovery-manifest-truncated',
      `${count} entries of ${entrySize} bytes after a ${headerSize}-byte header need ${headerSize + count * entrySize} bytes; the body has ${body.length}`,
      { offset: body.length },
    );
  }
  const buildSeconds = Number(body.readBigUInt64LE(8));
  const entries: RecoveryManifestEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = headerSize + i * entrySize;
    const abi = (start: number): AbiEntry[] => {
      const list: AbiEntry[] = [];
      for (let slot = 0; slot < ABI_SLOTS; slot++) {
        const entry = { version: body.readUInt32LE(start + slot * 8), identityType: body.readUInt32LE(start + slot * 8 + 4) };
        if (entry.version !== 0 || entry.identityType !== 0) list.push(entry);
      }
      return list;
    };
    entries.push({
      imageId: guidFromBytes(body, at),
      componentId: guidFromBytes(body, at + 16),
      imageType: body.readUInt16LE(at + 32),
      partitionType: body.readUInt16LE(at + 34),
      fileSize: body.readUInt32LE(at + 36),
      uncompressedSize: body.readUInt32LE(at + 40),
      provides: abi(at + 44),
      dependsOn: abi(at + 60),
    });
  }
  const millis = buildSeconds * 1000;
  return { version, buildDate: new Date(millis <= 8.64e15 ? millis : NaN), entries };
}

export function buildRecoveryManifest(manifest: Omit<RecoveryManifest, 'version'>): Buffer {
  const body = Buffer.alloc(HEADER_BYTES + manifest.entries.length * ENTRY_BYTES);
  body.writeUInt16LE(RECOVERY_MANIFEST_VERSION, 0);
  body.writeUInt16LE(checkU16(manifest.entries.length, 'image count'), 2);
  body.writeUInt16LE(HEADER_BYTES, 4);
  body.writeUInt16LE(ENTRY_BYTES, 6);
  body.writeBigUInt64LE(BigInt(Math.floor(manifest.buildDate.getTime() / 1000)), 8);
  manifest.entries.forEach((entry, i) => {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    guidToBytes(entry.imageId, `entries[${i}].imageId`).copy(body, at);
    guidToBytes(entry.componentId, `entries[${i}].componentId`).copy(body, at + 16);
    body.writeUInt16LE(checkU16(entry.imageType, `entries[${i}].imageType`), at + 32);
    body.writeUInt16LE(checkU16(entry.partitionType, `entries[${i}].partitionType`), at + 34);
    body.writeUInt32LE(checkU32(entry.fileSize, `entries[${i}].fileSize`), at + 36);
    body.writeUInt32LE(checkU32(entry.uncompressedSize, `entries[${i}].uncompressedSize`), at + 40);
    const writeAbi = (list: AbiEntry[], start: number, what: string): void => {
      if (list.length > ABI_SLOTS) throw new FormatError('recovery-manifest-abi', `entries[${i}].${what} holds at most ${ABI_SLOTS} entries`);
      list.forEach((abi, slot) => {
        body.writeUInt32LE(checkU32(abi.version, `entries[${i}].${what}.version`), start + slot * 8);
        body.writeUInt32LE(checkU32(abi.identityType, `entries[${i}].${what}.type`), start + slot * 8 + 4);
      });
    };
    writeAbi(entry.provides, at + 44, 'provides');
    writeAbi(entry.dependsOn, at + 60, 'dependsOn');
  });
  return body;
}
