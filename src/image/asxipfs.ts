import { crc32 } from 'node:zlib';
import { InputError } from '../util/failure.js';
import { FormatError } from './format-error.js';

/*
 * ASXipFS: the read-only, execute-in-place cramfs variant that forms the body of an
 * Azure Sphere application image. All words are little-endian.
 *
 * What the real SDK-built image (shared/fixtures/azure-sphere/test_app.imagepackage,
 * body = bytes 0..28671) shows, byte by byte:
 *
 *   0x00 magic 0x28cd3d45 | size 0x7000 (28,672 = the whole body, a multiple of 4096)
 *   0x08 flags 3 = FSID_VERSION_2 (fsid fields are valid) | SORTED_DIRS | future 0
 *   0x10 "Compressed ROMFS"
 *   0x20 fsid.crc 0x1f47095b = CRC-32 (zlib/IEEE) of all `size` bytes with the crc field
 *        itself zeroed, exactly as classic mkcramfs computes it (checked on the fixture)
 *        fsid.edition 0 | fsid.blocks 0 (unlike cramfs, which counts compressed blocks:
 *        XIP files have no block pointers, so the tool leaves it 0) | fsid.files 4 =
 *        every inode including the root (root, app_manifest.json, bin, bin/app)
 *   0x30 name "Compressed" NUL-padded to 16
 *   0x40 root inode: mode 040755, uid 0, size 48, gid 0, namelen 0, offset 76
 *   0x4c app_manifest.json: mode 0101644, 261 bytes, namelen 5 (17 chars + 3 NULs), data at 4096
 *   0x6c bin: 040755, size 16, namelen 1 ("bin\0"), children at 124
 *   0x7c bin/app: mode 0101755, 18,108 bytes, namelen 1 ("app\0"), data at 8192
 *   then zeros to 4096; each file's data starts on a 4096-byte boundary, uncompressed,
 *   and the gap after it up to the next boundary (and to `size`) is zero.
 *
 * Regular files carry the sticky bit (01000: the raw modes are 0x83a4 and 0x83ed, not the
 * 0100644/0100755 the spec quotes): linear/XIP cramfs, which ASXipFS forks, marks a file
 * stored uncompressed for execute-in-place with it.
 *
 * So directory children are laid out right after the root, one directory after the
 * other (root's children first, then bin's), each directory's records contiguous and
 * sorted; a directory's size is the byte length of its records; names are padded to a
 * multiple of 4 (no NUL is required when the name fills its last word, as in cramfs:
 * inferred, the fixture has no such name). With a single subdirectory the fixture cannot
 * tell breadth-first from depth-first directory order, nor the order of file data with
 * more files; this module writes both in breadth-first order (inferred). Empty files
 * and empty directories get offset 0, as in cramfs (inferred).
 *
 * What the device's driver (Microsoft's GPL asxipfs kernel module, read for reference)
 * refuses, and this reader therefore refuses too: flags outside 0xff|0x200|0x400|0x800;
 * a root that is not a directory or whose children are not at 76 (or 512+76) without the
 * SHIFTED_ROOT_OFFSET flag; a regular file without the XIP bit; XIP data not on a page
 * boundary; inode types other than file, directory and symlink; a non-XIP symlink that is
 * empty or not NUL-terminated. It reads file data in whole pages, so every page a file
 * touches must lie inside `size`. It does NOT check fsid.crc or fsid.files (the image
 * signature covers integrity), so neither does this reader unless `verifyFsid` is set.
 * The rest (bounds, overlaps, cycles, names, limits) is this reader's own hardening.
 */

export const ASXIPFS_MAGIC = 0x28cd3d45;
export const ASXIPFS_SIGNATURE = 'Compressed ROMFS';
export const ASXIPFS_DEFAULT_NAME = 'Compressed';
/** 64-byte header plus the root inode (which has no name). */
export const ASXIPFS_SUPERBLOCK_SIZE = 76;
/** XIP data is mapped, and so aligned, in pages. */
export const ASXIPFS_PAGE_SIZE = 4096;
export const ASXIPFS_FLAG_FSID_VERSION_2 = 0x1;
export const ASXIPFS_FLAG_SORTED_DIRS = 0x2;
export const ASXIPFS_FLAG_SHIFTED_ROOT_OFFSET = 0x400;
/** The flag bits the device's driver accepts; any other bit makes it refuse to mount. */
export const ASXIPFS_SUPPORTED_FLAGS = 0xff | 0x200 | ASXIPFS_FLAG_SHIFTED_ROOT_OFFSET | 0x800;
/** The sticky bit: marks a file (or symlink) stored uncompressed for execute-in-place. */
export const ASXIPFS_XIP_MODE_BIT = 0o1000;
/** Largest name: the 6-bit namelen field counts 4-byte words. */
export const ASXIPFS_MAX_NAME_BYTES = 63 * 4;
/** Largest file or directory: the 24-bit size field. */
export const ASXIPFS_MAX_FILE_SIZE = 0xffffff;
/** Offsets are 26-bit counts of 4-byte words, so nothing can start at or past 256 MiB. */
export const ASXIPFS_MAX_IMAGE_SIZE = 2 ** 26 * 4;

const ROOT_INODE_OFFSET = 64;
const INODE_SIZE = 12;
const CRC_OFFSET = 32;
const FILES_OFFSET = 44;
const PADDED_ROOT_CHILDREN = 512 + ASXIPFS_SUPERBLOCK_SIZE;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const DIRECTORY_MODE = S_IFDIR | 0o755;
const DEFAULT_PERMISSIONS = 0o644;
const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_ENTRIES = 65_536;

export type AsxipfsEntryType = 'file' | 'directory' | 'symlink';

export interface AsxipfsEntry {
  /** Slash-separated, relative to the root: 'app_manifest.json', 'bin', 'bin/app'. */
  path: string;
  name: string;
  type: AsxipfsEntryType;
  /** Full st_mode as stored, type and sticky (XIP) bits included (0101644). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of file data, or for a directory the bytes of its children's inode records. */
  size: number;
  /** Byte offset of the file data, or of a directory's first child record (0 if none). */
  dataOffset: number;
  /** Byte offset of this entry's own inode record. */
  inodeOffset: number;
  /** For a symlink, its target. */
  target?: string;
}

export interface AsxipfsFsid {
  crc: number;
  edition: number;
  blocks: number;
  files: number;
}

export interface AsxipfsSuperblock {
  magic: number;
  size: number;
  flags: number;
  future: number;
  signature: string;
  fsid: AsxipfsFsid;
  name: string;
}

export interface AsxipfsImage extends AsxipfsSuperblock {
  root: AsxipfsEntry;
  /** Every entry but the root, in inode-table order (breadth-first). */
  entries: AsxipfsEntry[];
  /** Whether fsid.crc and fsid.files match the image; undefined without FSID_VERSION_2. */
  fsidCheck: { crcMatches: boolean; filesMatches: boolean } | undefined;
  /** The entry at a path ('bin/app' or '/bin/app'; '' is the root), or undefined. */
  getEntry(path: string): AsxipfsEntry | undefined;
  /** A copy of a file's (or symlink's) bytes. */
  readFile(path: string): Buffer;
}

export interface ReadAsxipfsOptions {
  /**
   * Also reject a wrong fsid.crc or fsid.files (when FSID_VERSION_2 is set). Default false:
   * the device does not check them; `fsidCheck` reports them either way.
   */
  verifyFsid?: boolean;
  /** Deepest directory nesting accepted (default 64). */
  maxDepth?: number;
  /** Most entries accepted, root excluded (default 65,536). */
  maxEntries?: number;
}

export interface AsxipfsFileSpec {
  path: string;
  data: Buffer | Uint8Array;
  /**
   * Permission bits (0o755), or a full mode (0o100755; 0o120777 for a symlink whose data
   * is its target). Default 0o644. The XIP sticky bit is always added, as in real images.
   */
  mode?: number;
}

export interface BuildAsxipfsOptions {
  /** The superblock's name, at most 16 printable ASCII characters (default "Compressed"). */
  name?: string;
}

/** CRC-32 of the first `size` bytes as the fsid stores it: computed with the crc field zeroed. */
export function asxipfsCrc(image: Uint8Array, size: number = image.length): number {
  const head = crc32(image.subarray(0, CRC_OFFSET));
  const withZeroField = crc32(new Uint8Array(4), head);
  return crc32(image.subarray(CRC_OFFSET + 4, size), withZeroField) >>> 0;
}

function fail(code: string, message: string, offset: number): never {
  throw new FormatError(`asxipfs-${code}`, `ASXipFS: ${message}`, { offset });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}

function normalizePath(path: string): string {
  return path.startsWith('/') ? path.slice(1) : path;
}

function entryTypeOf(mode: number): AsxipfsEntryType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return undefined;
  }
}

/** The fields of one 12-byte inode record. */
function decodeInode(fs: Buffer, at: number): { mode: number; uid: number; size: number; gid: number; namelen: number; offset: number } {
  const word0 = fs.readUInt32LE(at);
  const word1 = fs.readUInt32LE(at + 4);
  const word2 = fs.readUInt32LE(at + 8);
  return {
    mode: word0 & 0xffff,
    uid: word0 >>> 16,
    size: word1 & 0xffffff,
    gid: word1 >>> 24,
    namelen: word2 & 0x3f,
    offset: (word2 >>> 6) * 4,
  };
}

interface Superblock extends AsxipfsSuperblock {
  fsidValid: boolean;
  sorted: boolean;
}

function readSuperblock(buf: Buffer): Superblock {
  if (buf.length < 4) fail('truncated', `${buf.length} bytes, too short for the magic`, buf.length);
  const magic = buf.readUInt32LE(0);
  if (magic !== ASXIPFS_MAGIC) {
    const hint = buf.readUInt32BE(0) === ASXIPFS_MAGIC ? ' (big-endian cramfs is not ASXipFS)' : '';
    fail('bad-magic', `magic 0x${magic.toString(16)} is not 0x${ASXIPFS_MAGIC.toString(16)}${hint}`, 0);
  }
  if (buf.length < ASXIPFS_SUPERBLOCK_SIZE) {
    fail('truncated', `${buf.length} bytes, too short for the ${ASXIPFS_SUPERBLOCK_SIZE}-byte superblock`, buf.length);
  }
  const size = buf.readUInt32LE(4);
  if (size < ASXIPFS_SUPERBLOCK_SIZE) fail('size-too-small', `size field ${size} is smaller than the superblock`, 4);
  if (size > buf.length) fail('size-past-end', `size field ${size} is past the end of the ${buf.length}-byte buffer`, 4);
  const flags = buf.readUInt32LE(8);
  if ((flags & ~ASXIPFS_SUPPORTED_FLAGS) !== 0) fail('unsupported-flags', `flags 0x${flags.toString(16)} include features the device does not support`, 8);
  const signature = buf.toString('latin1', 16, 32);
  if (signature !== ASXIPFS_SIGNATURE) fail('bad-signature', `signature is not "${ASXIPFS_SIGNATURE}"`, 16);
  const nameEnd = buf.indexOf(0, 48);
  return {
    magic,
    size,
    flags,
    future: buf.readUInt32LE(12),
    signature,
    fsid: {
      crc: buf.readUInt32LE(CRC_OFFSET),
      edition: buf.readUInt32LE(36),
      blocks: buf.readUInt32LE(40),
      files: buf.readUInt32LE(FILES_OFFSET),
    },
    name: buf.toString('latin1', 48, nameEnd >= 48 && nameEnd < 64 ? nameEnd : 64),
    fsidValid: (flags & ASXIPFS_FLAG_FSID_VERSION_2) !== 0,
    sorted: (flags & ASXIPFS_FLAG_SORTED_DIRS) !== 0,
  };
}

function readRoot(fs: Buffer, flags: number): AsxipfsEntry {
  const inode = decodeInode(fs, ROOT_INODE_OFFSET);
  if ((inode.mode & S_IFMT) !== S_IFDIR) fail('root-not-directory', `root inode mode 0${inode.mode.toString(8)} is not a directory`, ROOT_INODE_OFFSET);
  if (inode.namelen !== 0) fail('root-has-name', 'root inode has a name', ROOT_INODE_OFFSET + 8);
  const shifted = (flags & ASXIPFS_FLAG_SHIFTED_ROOT_OFFSET) !== 0;
  if (inode.offset !== 0 && !shifted && inode.offset !== ASXIPFS_SUPERBLOCK_SIZE && inode.offset !== PADDED_ROOT_CHILDREN) {
    fail('bad-root-offset', `root children at ${inode.offset}, not right after the superblock`, ROOT_INODE_OFFSET + 8);
  }
  return { path: '', name: '', type: 'directory', mode: inode.mode, uid: inode.uid, gid: inode.gid, size: inode.size, dataOffset: inode.offset, inodeOffset: ROOT_INODE_OFFSET };
}

/** Checks that a file's or symlink's data can be read the way the device reads it. */
function checkData(fs: Buffer, entry: AsxipfsEntry): void {
  const xip = (entry.mode & ASXIPFS_XIP_MODE_BIT) !== 0;
  if (entry.type === 'file' && !xip) fail('file-not-xip', `"${entry.path}" lacks the XIP (sticky) bit; the device refuses compressed files`, entry.inodeOffset);
  if (xip) {
    if (entry.size === 0) return;
    if (entry.dataOffset % ASXIPFS_PAGE_SIZE !== 0) fail('data-misaligned', `data of "${entry.path}" at ${entry.dataOffset} is not on a page boundary`, entry.inodeOffset + 8);
    if (entry.dataOffset + roundUp(entry.size, ASXIPFS_PAGE_SIZE) > fs.length) {
      fail('data-out-of-bounds', `data pages of "${entry.path}" (${entry.dataOffset}+${entry.size}) run past the file system's ${fs.length} bytes`, entry.inodeOffset + 8);
    }
  } else if (entry.size === 0 || entry.dataOffset + entry.size >= fs.length || fs[entry.dataOffset + entry.size] !== 0) {
    // A non-XIP symlink is read in place and must be non-empty and NUL-terminated.
    fail('bad-symlink', `symlink "${entry.path}" is empty, out of bounds or not NUL-terminated`, entry.inodeOffset + 4);
  }
}

interface PendingDirectory {
  entry: AsxipfsEntry;
  depth: number;
}

/** Parses an ASXipFS image and checks every inode, name and data range against the buffer. */
export function readAsxipfs(body: Buffer | Uint8Array, options: ReadAsxipfsOptions = {}): AsxipfsImage {
  if (!(body instanceof Uint8Array)) fail('not-a-buffer', 'input is not a Buffer', 0);
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const superblock = readSuperblock(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  const { size, fsid, fsidValid, sorted } = superblock;
  // Only the first `size` bytes belong to the file system; whatever follows is ignored.
  const fs = Buffer.from(body.buffer, body.byteOffset, size);

  const crcMatches = fsidValid && asxipfsCrc(fs) === fsid.crc;
  if (fsidValid && options.verifyFsid) {
    if (!crcMatches) fail('crc-mismatch', `fsid.crc 0x${fsid.crc.toString(16)} but the image's CRC-32 is 0x${asxipfsCrc(fs).toString(16)}`, CRC_OFFSET);
    if (fsid.files > maxEntries + 1) fail('too-many-entries', `fsid.files ${fsid.files} exceeds the limit ${maxEntries}`, FILES_OFFSET);
  }

  // One flag per 4-byte word that holds an inode record (or the superblock): a directory
  // whose children overlap records already read is a cycle or a corrupt table, and this
  // bounds the walk to one visit per word.
  const claimed = new Uint8Array(Math.ceil(size / 4));
  claimed.fill(1, 0, ASXIPFS_SUPERBLOCK_SIZE / 4);
  const walkedStarts = new Set<number>();
  let inodeTableEnd = ASXIPFS_SUPERBLOCK_SIZE;

  const root = readRoot(fs, superblock.flags);
  const entries: AsxipfsEntry[] = [];
  const byPath = new Map<string, AsxipfsEntry>();
  const queue: PendingDirectory[] = [{ entry: root, depth: 0 }];

  for (let next = 0; next < queue.length; next++) {
    const { entry: dir, depth } = queue[next]!;
    if (dir.size === 0) continue;
    const start = dir.dataOffset;
    const end = start + dir.size;
    if (dir.size % 4 !== 0) fail('dir-size-misaligned', `directory "${dir.path}" size ${dir.size} is not a multiple of 4`, dir.inodeOffset + 4);
    if (start < ASXIPFS_SUPERBLOCK_SIZE || end > size) {
      fail('dir-out-of-bounds', `directory "${dir.path}" children ${start}..${end} lie outside ${ASXIPFS_SUPERBLOCK_SIZE}..${size}`, dir.inodeOffset + 8);
    }
    if (walkedStarts.has(start)) fail('directory-cycle', `directory "${dir.path}" points at children already walked (offset ${start})`, dir.inodeOffset + 8);
    for (let word = start / 4; word < end / 4; word++) {
      if (claimed[word]) fail('inode-overlap', `directory "${dir.path}" children overlap other inode records at ${word * 4}`, dir.inodeOffset + 8);
    }
    claimed.fill(1, start / 4, end / 4);
    walkedStarts.add(start);
    inodeTableEnd = Math.max(inodeTableEnd, end);

    let previousName: Buffer | undefined;
    const siblingNames = new Set<string>();
    for (let p = start; p < end; ) {
      if (p + INODE_SIZE > end) fail('inode-truncated', `inode record at ${p} runs past the end of directory "${dir.path}"`, p);
      const inode = decodeInode(fs, p);
      const nameOffset = p + INODE_SIZE;
      if (inode.namelen === 0) fail('empty-name', `inode at ${p} has no name`, p + 8);
      if (nameOffset + inode.namelen * 4 > end) fail('name-out-of-bounds', `name of inode at ${p} runs past the end of directory "${dir.path}"`, p + 8);

      let nameLength = inode.namelen * 4;
      while (nameLength > 0 && fs[nameOffset + nameLength - 1] === 0) nameLength--;
      const rawName = fs.subarray(nameOffset, nameOffset + nameLength);
      if (nameLength === 0) fail('empty-name', `inode at ${p} has an all-NUL name`, nameOffset);
      const nul = rawName.indexOf(0);
      if (nul >= 0) fail('name-has-nul', `name of inode at ${p} contains a NUL byte`, nameOffset + nul);
      const name = decodeUtf8(rawName);
      if (name === undefined) fail('name-not-utf8', `name of inode at ${p} is not valid UTF-8`, nameOffset);
      const slash = rawName.indexOf(0x2f);
      if (slash >= 0) fail('name-has-slash', `name "${name}" contains '/'`, nameOffset + slash);
      if (name === '.' || name === '..') fail('dot-name', `name "${name}" is not allowed`, nameOffset);
      // The device's lookup stops early in sorted directories, so order matters there.
      if (sorted && previousName !== undefined) {
        const order = Buffer.compare(previousName, rawName);
        if (order === 0) fail('duplicate-name', `"${name}" appears twice in directory "${dir.path}"`, nameOffset);
        if (order > 0) fail('unsorted-directory', `"${name}" is out of order in directory "${dir.path}" (flags say sorted)`, nameOffset);
      } else if (siblingNames.has(name)) {
        fail('duplicate-name', `"${name}" appears twice in directory "${dir.path}"`, nameOffset);
      }
      previousName = rawName;
      siblingNames.add(name);

      if (entries.length >= maxEntries) fail('too-many-entries', `more than ${maxEntries} entries`, p);
      const type = entryTypeOf(inode.mode);
      if (type === undefined) fail('unsupported-type', `inode at ${p} has mode 0${inode.mode.toString(8)}, not a file, directory or symlink`, p);
      if (depth + 1 > maxDepth) fail('too-deep', `directory nesting deeper than ${maxDepth}`, p);

      const entry: AsxipfsEntry = {
        path: dir.path === '' ? name : `${dir.path}/${name}`,
        name,
        type,
        mode: inode.mode,
        uid: inode.uid,
        gid: inode.gid,
        size: inode.size,
        dataOffset: inode.offset,
        inodeOffset: p,
      };
      if (type === 'directory') queue.push({ entry, depth: depth + 1 });
      else checkData(fs, entry);
      entries.push(entry);
      byPath.set(entry.path, entry);
      p = nameOffset + inode.namelen * 4;
    }
  }

  // File data follows the whole inode table in real images; data inside it means the
  // offsets are corrupt (and would let a "file" alias inode records).
  for (const entry of entries) {
    if (entry.type === 'directory') continue;
    if (entry.size > 0 && entry.dataOffset < inodeTableEnd) {
      fail('data-overlaps-inodes', `data of "${entry.path}" at ${entry.dataOffset} lies inside the inode table (ends at ${inodeTableEnd})`, entry.inodeOffset + 8);
    }
    if (entry.type === 'symlink') {
      const target = decodeUtf8(fs.subarray(entry.dataOffset, entry.dataOffset + entry.size));
      if (target === undefined) fail('symlink-not-utf8', `target of symlink "${entry.path}" is not valid UTF-8`, entry.dataOffset);
      entry.target = target;
    }
  }
  const filesMatches = fsidValid && fsid.files === entries.length + 1;
  if (fsidValid && options.verifyFsid && !filesMatches) {
    fail('file-count-mismatch', `fsid.files says ${fsid.files} inodes but the tree holds ${entries.length + 1}`, FILES_OFFSET);
  }

  const getEntry = (path: string): AsxipfsEntry | undefined => {
    const key = normalizePath(path);
    return key === '' ? root : byPath.get(key);
  };
  const readFile = (path: string): Buffer => {
    const entry = getEntry(path);
    if (entry === undefined) throw new FormatError('asxipfs-not-found', `ASXipFS: no "${path}" in the image`);
    if (entry.type === 'directory') throw new FormatError('asxipfs-not-a-file', `ASXipFS: "${path}" is a directory`);
    return Buffer.from(fs.subarray(entry.dataOffset, entry.dataOffset + entry.size));
  };

  const { magic, flags, future, signature, name } = superblock;
  const fsidCheck = fsidValid ? { crcMatches, filesMatches } : undefined;
  return { magic, size, flags, future, signature, fsid, name, root, entries, fsidCheck, getEntry, readFile };
}

// ---------------------------------------------------------------------------------
// Writing

interface DirectoryNode {
  kind: 'directory';
  name: Buffer;
  children: Map<string, TreeNode>;
  recordOffset: number;
  childrenOffset: number;
  childrenSize: number;
}

interface FileNode {
  kind: 'file';
  name: Buffer;
  mode: number;
  data: Uint8Array;
  recordOffset: number;
  dataOffset: number;
}

type TreeNode = DirectoryNode | FileNode;

function buildError(code: string, message: string, details: Record<string, unknown> = {}): never {
  throw new InputError(`asxipfs-build-${code}`, `ASXipFS build: ${message}`, details);
}

function recordSize(node: TreeNode): number {
  return INODE_SIZE + roundUp(node.name.length, 4);
}

function newDirectory(name: Buffer): DirectoryNode {
  return { kind: 'directory', name, children: new Map(), recordOffset: 0, childrenOffset: 0, childrenSize: 0 };
}

function fileMode(spec: AsxipfsFileSpec): number {
  const mode = spec.mode ?? DEFAULT_PERMISSIONS;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0xffff) buildError('bad-mode', `mode ${mode} of "${spec.path}" does not fit 16 bits`, { path: spec.path });
  const full = (mode & S_IFMT) === 0 ? mode | S_IFREG : mode;
  const type = full & S_IFMT;
  if (type !== S_IFREG && type !== S_IFLNK) {
    buildError('bad-mode', `mode 0${full.toString(8)} of "${spec.path}" is not a regular file or symlink (directories are implied by paths)`, { path: spec.path });
  }
  // Every file's data is stored uncompressed, and the device reads only XIP-marked data
  // through its page path, so the bit goes on symlinks too (inferred: no real image with a
  // symlink has been seen).
  return full | ASXIPFS_XIP_MODE_BIT;
}

function splitPath(path: unknown): Buffer[] {
  if (typeof path !== 'string' || path === '') buildError('bad-path', 'a path is empty or not a string', { path });
  if (path.startsWith('/')) buildError('bad-path', `path "${path}" is absolute; paths are relative to the root`, { path });
  return path.split('/').map((component) => {
    if (component === '' || component === '.' || component === '..') buildError('bad-path', `path "${path}" has an empty, '.' or '..' component`, { path });
    if (component.includes('\0')) buildError('bad-path', `path "${path}" contains a NUL character`, { path });
    const bytes = Buffer.from(component, 'utf8');
    if (bytes.toString('utf8') !== component) buildError('bad-path', `path "${path}" is not well-formed Unicode`, { path });
    if (bytes.length > ASXIPFS_MAX_NAME_BYTES) {
      buildError('name-too-long', `name "${component}" is ${bytes.length} bytes; the 6-bit namelen field allows ${ASXIPFS_MAX_NAME_BYTES}`, { path });
    }
    return bytes;
  });
}

function buildTree(files: ReadonlyArray<AsxipfsFileSpec>): DirectoryNode {
  const root = newDirectory(Buffer.alloc(0));
  for (const spec of files) {
    const components = splitPath(spec.path);
    const mode = fileMode(spec);
    if (!(spec.data instanceof Uint8Array)) buildError('bad-data', `data of "${spec.path}" is not a Buffer`, { path: spec.path });
    if (spec.data.length > ASXIPFS_MAX_FILE_SIZE) {
      buildError('file-too-large', `"${spec.path}" is ${spec.data.length} bytes; the 24-bit size field allows ${ASXIPFS_MAX_FILE_SIZE}`, { path: spec.path });
    }
    let dir = root;
    for (const [index, component] of components.entries()) {
      const key = component.toString('utf8');
      const existing = dir.children.get(key);
      if (index === components.length - 1) {
        if (existing?.kind === 'file') buildError('duplicate-path', `"${spec.path}" is given twice`, { path: spec.path });
        if (existing?.kind === 'directory') buildError('path-conflict', `"${spec.path}" is both a file and a directory`, { path: spec.path });
        dir.children.set(key, { kind: 'file', name: component, mode, data: spec.data, recordOffset: 0, dataOffset: 0 });
      } else if (existing === undefined) {
        const child = newDirectory(component);
        dir.children.set(key, child);
        dir = child;
      } else if (existing.kind === 'file') {
        buildError('path-conflict', `"${spec.path}" needs "${key}" to be a directory, but it is a file`, { path: spec.path });
      } else {
        dir = existing;
      }
    }
  }
  return root;
}

function sortedChildren(dir: DirectoryNode): TreeNode[] {
  return [...dir.children.values()].sort((a, b) => Buffer.compare(a.name, b.name));
}

function writeInode(out: Buffer, at: number, mode: number, size: number, offset: number, nameLength: number): void {
  out.writeUInt32LE(mode & 0xffff, at); // uid 0
  out.writeUInt32LE(size & 0xffffff, at + 4); // gid 0
  out.writeUInt32LE((((offset / 4) << 6) | (roundUp(nameLength, 4) / 4)) >>> 0, at + 8);
}

/**
 * Writes an ASXipFS laid out like the SDK's: superblock and root, then the children of
 * each directory (breadth-first, sorted by name bytes), then each non-empty file's data
 * on its own 4096-byte boundary; files and symlinks marked XIP (sticky bit); size
 * rounded up to 4096; flags 3; fsid.crc computed, edition 0, blocks 0, files = inode
 * count including the root. Reproduces the SDK-built fixture byte for byte.
 */
export function buildAsxipfs(files: ReadonlyArray<AsxipfsFileSpec>, options: BuildAsxipfsOptions = {}): Buffer {
  const fsName = options.name ?? ASXIPFS_DEFAULT_NAME;
  if (!/^[\x20-\x7e]{0,16}$/.test(fsName)) buildError('bad-name', `file system name "${fsName}" must be at most 16 printable ASCII characters`);
  const root = buildTree(files);

  // Inode records: each directory's children contiguous, directories breadth-first.
  const order: TreeNode[] = [];
  const directories: DirectoryNode[] = [root];
  let cursor = ASXIPFS_SUPERBLOCK_SIZE;
  for (let next = 0; next < directories.length; next++) {
    const dir = directories[next]!;
    const children = sortedChildren(dir);
    const start = cursor;
    for (const child of children) {
      child.recordOffset = cursor;
      cursor += recordSize(child);
      order.push(child);
      if (child.kind === 'directory') directories.push(child);
    }
    dir.childrenSize = cursor - start;
    dir.childrenOffset = children.length > 0 ? start : 0; // an empty directory points nowhere
    if (dir.childrenSize > ASXIPFS_MAX_FILE_SIZE) {
      buildError('directory-too-large', `a directory's inode records take ${dir.childrenSize} bytes; the 24-bit size field allows ${ASXIPFS_MAX_FILE_SIZE}`);
    }
  }

  // File data: page-aligned, in inode order; empty files take no space.
  let size = roundUp(cursor, ASXIPFS_PAGE_SIZE);
  for (const node of order) {
    if (size > ASXIPFS_MAX_IMAGE_SIZE) break;
    if (node.kind !== 'file' || node.data.length === 0) continue;
    node.dataOffset = size;
    size = roundUp(size + node.data.length, ASXIPFS_PAGE_SIZE);
  }
  if (size > ASXIPFS_MAX_IMAGE_SIZE) buildError('image-too-large', `the file system would exceed ${ASXIPFS_MAX_IMAGE_SIZE} bytes (26-bit offsets)`);

  const out = Buffer.alloc(size);
  out.writeUInt32LE(ASXIPFS_MAGIC, 0);
  out.writeUInt32LE(size, 4);
  out.writeUInt32LE(ASXIPFS_FLAG_FSID_VERSION_2 | ASXIPFS_FLAG_SORTED_DIRS, 8);
  out.write(ASXIPFS_SIGNATURE, 16, 'latin1');
  out.writeUInt32LE(0, 36); // edition
  out.writeUInt32LE(0, 40); // blocks: the SDK leaves it 0
  out.writeUInt32LE(order.length + 1, FILES_OFFSET);
  out.write(fsName, 48, 'latin1');
  writeInode(out, ROOT_INODE_OFFSET, DIRECTORY_MODE, root.childrenSize, root.childrenOffset, 0);
  for (const node of order) {
    if (node.kind === 'directory') {
      writeInode(out, node.recordOffset, DIRECTORY_MODE, node.childrenSize, node.childrenOffset, node.name.length);
    } else {
      writeInode(out, node.recordOffset, node.mode, node.data.length, node.dataOffset, node.name.length);
      out.set(node.data, node.dataOffset);
    }
    node.name.copy(out, node.recordOffset + INODE_SIZE);
  }
  out.writeUInt32LE(asxipfsCrc(out), CRC_OFFSET);
  return out;
}
