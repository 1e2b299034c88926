import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  ASXIPFS_MAX_FILE_SIZE,
  ASXIPFS_MAX_NAME_BYTES,
  asxipfsCrc,
  buildAsxipfs,
  readAsxipfs,
  type AsxipfsFileSpec,
  type AsxipfsImage,
} from '../../src/image/asxipfs.js';
import { FormatError } from '../../src/image/format-error.js';
import { InputError } from '../../src/util/failure.js';
import { seededRandom } from '../helpers/seeded-random.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/azure-sphere/test_app.imagepackage', import.meta.url));
const BODY_LENGTH = 28_672;
const realBody = (): Buffer => Buffer.from(readFileSync(FIXTURE).subarray(0, BODY_LENGTH));

// Offsets inside the real body (see the layout comment in src/image/asxipfs.ts).
const ROOT = 64;
const MANIFEST_INODE = 76;
const BIN_INODE = 108;
const BIN_NAME = 120;
const APP_INODE = 124;

function expectFormatError(action: () => unknown, code: string, offset?: number): FormatError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected FormatError ${code}`).to.be.instanceOf(FormatError);
  const error = caught as FormatError;
  expect(error.code, error.message).to.equal(code);
  if (offset !== undefined) expect(error.offset, error.message).to.equal(offset);
  return error;
}

function expectBuildError(action: () => unknown, code: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected InputError ${code}`).to.be.instanceOf(InputError);
  expect((caught as InputError).code).to.equal(code);
}

/** A copy of `image` changed by `edit`, with the fsid crc fixed up so only the structural fault remains. */
function patched(image: Buffer, edit: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(image);
  edit(copy);
  copy.writeUInt32LE(asxipfsCrc(copy, Math.min(copy.readUInt32LE(4), copy.length)), 32);
  return copy;
}

/** Rewrites an inode's word2 offset field (in bytes), keeping namelen. */
function setInodeOffset(b: Buffer, inode: number, byteOffset: number): void {
  const namelen = b.readUInt32LE(inode + 8) & 0x3f;
  b.writeUInt32LE((((byteOffset / 4) << 6) | namelen) >>> 0, inode + 8);
}

function setInodeSize(b: Buffer, inode: number, size: number): void {
  const gid = b.readUInt32LE(inode + 4) >>> 24;
  b.writeUInt32LE(((gid << 24) | size) >>> 0, inode + 4);
}

function filesOf(image: AsxipfsImage): Map<string, Buffer> {
  return new Map(image.entries.filter((e) => e.type !== 'directory').map((e) => [e.path, image.readFile(e.path)]));
}

describe('ASXipFS', () => {
  describe('the real SDK-built image', () => {
    const image = readAsxipfs(realBody());

    it('has the superblock the spec describes', () => {
      expect(image.magic).to.equal(0x28cd3d45);
      expect(image.size).to.equal(28_672);
      expect(image.flags).to.equal(3);
      expect(image.signature).to.equal('Compressed ROMFS');
      expect(image.name).to.equal('Compressed');
      expect(image.fsid).to.deep.equal({ crc: 0x1f47095b, edition: 0, blocks: 0, files: 4 });
      expect(image.fsidCheck).to.deep.equal({ crcMatches: true, filesMatches: true });
      expect(image.root).to.include({ type: 'directory', mode: 0o40755, size: 48, dataOffset: 76 });
    });

    it('lists app_manifest.json, bin and bin/app', () => {
      expect(image.entries.map((e) => e.path)).to.deep.equal(['app_manifest.json', 'bin', 'bin/app']);
      // 0100644 plus the sticky bit that marks XIP files (the spec's "0100644" leaves it out).
      expect(image.getEntry('app_manifest.json')).to.include({ type: 'file', mode: 0o101644, size: 261, dataOffset: 4096, uid: 0, gid: 0 });
      expect(image.getEntry('app_manifest.json')!.mode & 0o170777).to.equal(0o100644);
      expect(image.getEntry('bin')).to.include({ type: 'directory', mode: 0o40755, size: 16, dataOffset: 124 });
      expect(image.getEntry('/bin/app')).to.include({ type: 'file', mode: 0o101755, size: 18_108, dataOffset: 8192 });
    });

    it('reads file bytes', () => {
      const manifest = JSON.parse(image.readFile('app_manifest.json').toString('utf8'));
      expect(manifest.ComponentId).to.equal('1689d8b2-c835-2e27-27ad-e894d6d15fa9');
      expect(image.readFile('/bin/app').subarray(0, 4).toString('latin1')).to.equal('\x7fELF');
    });

    it('stores fsid.crc as CRC-32 of the image with the crc field zeroed', () => {
      expect(asxipfsCrc(realBody())).to.equal(0x1f47095b);
    });

    it('is reproduced byte for byte by buildAsxipfs from its own files and modes', () => {
      const specs = image.entries
        .filter((e) => e.type === 'file')
        .map((e) => ({ path: e.path, data: image.readFile(e.path), mode: e.mode }));
      expect(buildAsxipfs(specs).equals(realBody())).to.equal(true);
      // Plain permissions give the same bytes: the builder adds the type and XIP bits.
      const plain = [
        { path: 'bin/app', data: image.readFile('bin/app'), mode: 0o755 },
        { path: 'app_manifest.json', data: image.readFile('app_manifest.json') },
      ];
      expect(buildAsxipfs(plain).equals(realBody())).to.equal(true);
    });

    it('ignores bytes after `size` (e.g. the package metadata)', () => {
      const whole = readFileSync(FIXTURE);
      expect(readAsxipfs(whole).entries).to.have.length(3);
    });

    it('says which paths are missing or not files', () => {
      expectFormatError(() => image.readFile('nope'), 'asxipfs-not-found');
      expectFormatError(() => image.readFile('bin'), 'asxipfs-not-a-file');
      expect(image.getEntry('')).to.equal(image.root);
    });
  });

  describe('build then read', () => {
    const roundTrip = (files: AsxipfsFileSpec[]): AsxipfsImage => {
      const image = readAsxipfs(buildAsxipfs(files));
      const got = filesOf(image);
      expect([...got.keys()].sort()).to.deep.equal(files.map((f) => f.path).sort());
      for (const file of files) expect(got.get(file.path)!.equals(Buffer.from(file.data)), file.path).to.equal(true);
      return image;
    };

    it('nested folders, sorted by name bytes, directories breadth-first', () => {
      const image = roundTrip([
        { path: 'z/y/x/deep.txt', data: Buffer.from('deep') },
        { path: 'a.txt', data: Buffer.from('a') },
        { path: 'z/b', data: Buffer.from('zb') },
        { path: 'B', data: Buffer.from('upper case sorts first') },
        { path: 'z/y/x2', data: Buffer.from('x2') },
      ]);
      expect(image.entries.map((e) => e.path)).to.deep.equal(['B', 'a.txt', 'z', 'z/b', 'z/y', 'z/y/x', 'z/y/x2', 'z/y/x/deep.txt']);
      expect(image.getEntry('z/y')).to.include({ type: 'directory', mode: 0o40755 });
    });

    it('an empty file takes no data space and has offset 0', () => {
      const image = roundTrip([
        { path: 'empty', data: Buffer.alloc(0) },
        { path: 'full', data: Buffer.from('x') },
      ]);
      expect(image.getEntry('empty')).to.include({ size: 0, dataOffset: 0 });
      expect(image.getEntry('full')!.dataOffset).to.equal(4096);
      expect(image.size).to.equal(8192);
    });

    it('no files at all gives an empty root', () => {
      const image = roundTrip([]);
      expect(image.root).to.include({ size: 0, dataOffset: 0 });
      expect(image.size).to.equal(4096);
      expect(image.fsid.files).to.equal(1);
    });

    it('many files, each on its own 4096-byte page, inode table longer than a page', () => {
      const files = Array.from({ length: 600 }, (_, i) => ({
        path: `dir${i % 7}/file-${String(i).padStart(4, '0')}.bin`,
        data: Buffer.alloc((i * 37) % 5000, i & 0xff),
      }));
      const image = roundTrip(files);
      expect(image.fsid.files).to.equal(1 + 7 + 600);
      const data = image.entries.filter((e) => e.type === 'file' && e.size > 0);
      for (const entry of data) expect(entry.dataOffset % 4096, entry.path).to.equal(0);
      const inodeEnd = Math.max(...image.entries.map((e) => e.inodeOffset)) + 12;
      expect(inodeEnd).to.be.greaterThan(4096);
      expect(Math.min(...data.map((e) => e.dataOffset))).to.equal(Math.ceil(inodeEnd / 4096) * 4096);
    });

    it('the largest file the 24-bit size field allows', () => {
      const big = Buffer.alloc(ASXIPFS_MAX_FILE_SIZE);
      for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
      const image = roundTrip([{ path: 'bin/app', data: big, mode: 0o755 }]);
      expect(image.getEntry('bin/app')).to.include({ size: ASXIPFS_MAX_FILE_SIZE, mode: 0o101755 });
      expect(image.size).to.equal(4096 + 16 * 1024 * 1024);
    });

    it('names of every length up to 252 bytes, UTF-8 names, a 4-byte name without NUL', () => {
      const files = [1, 2, 3, 4, 5, 8, 251, ASXIPFS_MAX_NAME_BYTES].map((n) => ({ path: `d/${'n'.repeat(n)}`, data: Buffer.from([n]) }));
      files.push({ path: 'grüße/ファイル', data: Buffer.from('unicode') });
      const built = buildAsxipfs(files);
      roundTrip(files);
      const image = readAsxipfs(built);
      const four = image.getEntry('d/nnnn')!;
      expect(built.readUInt32LE(four.inodeOffset + 8) & 0x3f).to.equal(1);
    });

    it('symlinks, when the mode says so', () => {
      const image = roundTrip([
        { path: 'lib/real.so', data: Buffer.from('ELF') },
        { path: 'lib/link.so', data: Buffer.from('real.so'), mode: 0o120777 },
      ]);
      expect(image.getEntry('lib/link.so')).to.include({ type: 'symlink', target: 'real.so', mode: 0o121777 });
    });

    it('sets flags 3, blocks 0, files = inodes including root, a valid crc, size a multiple of 4096', () => {
      const built = buildAsxipfs([{ path: 'a/b/c', data: Buffer.from('c') }], { name: 'Rig' });
      const image = readAsxipfs(built);
      expect(image).to.include({ flags: 3, name: 'Rig', size: 8192 });
      expect(image.fsid).to.deep.equal({ crc: asxipfsCrc(built), edition: 0, blocks: 0, files: 4 });
      expect(readAsxipfs(built, { verifyFsid: true }).fsidCheck).to.deep.equal({ crcMatches: true, filesMatches: true });
    });
  });

  describe('buildAsxipfs rejects', () => {
    const data = Buffer.from('x');
    it('duplicate paths', () => expectBuildError(() => buildAsxipfs([{ path: 'a/b', data }, { path: 'a/b', data }]), 'asxipfs-build-duplicate-path'));
    it('a path that is both file and directory', () => {
      expectBuildError(() => buildAsxipfs([{ path: 'a', data }, { path: 'a/b', data }]), 'asxipfs-build-path-conflict');
      expectBuildError(() => buildAsxipfs([{ path: 'a/b', data }, { path: 'a', data }]), 'asxipfs-build-path-conflict');
    });
    for (const path of ['', '/abs', 'a/../b', '..', './a', 'a//b', 'a/', 'nul\0byte', '\ud800lone']) {
      it(`the path ${JSON.stringify(path)}`, () => expectBuildError(() => buildAsxipfs([{ path, data }]), 'asxipfs-build-bad-path'));
    }
    it('a name longer than the 6-bit namelen field allows', () => {
      expectBuildError(() => buildAsxipfs([{ path: 'n'.repeat(ASXIPFS_MAX_NAME_BYTES + 1), data }]), 'asxipfs-build-name-too-long');
      expectBuildError(() => buildAsxipfs([{ path: `d/${'é'.repeat(127)}`, data }]), 'asxipfs-build-name-too-long');
    });
    it('a file over the 24-bit size field', () => {
      expectBuildError(() => buildAsxipfs([{ path: 'big', data: Buffer.alloc(ASXIPFS_MAX_FILE_SIZE + 1) }]), 'asxipfs-build-file-too-large');
    });
    it('a directory mode, a mode over 16 bits', () => {
      expectBuildError(() => buildAsxipfs([{ path: 'd', data, mode: 0o40755 }]), 'asxipfs-build-bad-mode');
      expectBuildError(() => buildAsxipfs([{ path: 'd', data, mode: 0x10000 }]), 'asxipfs-build-bad-mode');
    });
    it('a file system name over 16 bytes', () => {
      expectBuildError(() => buildAsxipfs([], { name: 'x'.repeat(17) }), 'asxipfs-build-bad-name');
    });
  });

  describe('malformed images', () => {
    const body = realBody();

    it('not a buffer', () => expectFormatError(() => readAsxipfs('nope' as unknown as Buffer), 'asxipfs-not-a-buffer', 0));

    it('truncated before the magic or the superblock', () => {
      expectFormatError(() => readAsxipfs(body.subarray(0, 0)), 'asxipfs-truncated', 0);
      expectFormatError(() => readAsxipfs(body.subarray(0, 3)), 'asxipfs-truncated', 3);
      expectFormatError(() => readAsxipfs(body.subarray(0, 75)), 'asxipfs-truncated', 75);
    });

    it('truncated after the superblock: the size field is past the end', () => {
      expectFormatError(() => readAsxipfs(body.subarray(0, BODY_LENGTH - 1)), 'asxipfs-size-past-end', 4);
      expectFormatError(() => readAsxipfs(body.subarray(0, 200)), 'asxipfs-size-past-end', 4);
    });

    it('wrong magic, including big-endian cramfs', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0, 0))), 'asxipfs-bad-magic', 0);
      const error = expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32BE(0x28cd3d45, 0))), 'asxipfs-bad-magic', 0);
      expect(error.message).to.match(/big-endian/);
    });

    it('size field past the buffer or smaller than the superblock', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(BODY_LENGTH + 4, 4))), 'asxipfs-size-past-end', 4);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0xffffffff, 4))), 'asxipfs-size-past-end', 4);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(75, 4))), 'asxipfs-size-too-small', 4);
    });

    it('wrong signature', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.write('Compressed RAMFS', 16, 'latin1'))), 'asxipfs-bad-signature', 16);
    });

    it('a crc mismatch is reported, and rejected only with verifyFsid (the device never checks it)', () => {
      const corrupt = Buffer.from(body);
      corrupt[9000]! ^= 0x01;
      expect(readAsxipfs(corrupt).fsidCheck).to.deep.equal({ crcMatches: false, filesMatches: true });
      expectFormatError(() => readAsxipfs(corrupt, { verifyFsid: true }), 'asxipfs-crc-mismatch', 32);
    });

    it('fsid.files disagreeing with the tree, or absurd (with verifyFsid)', () => {
      const wrongCount = patched(body, (b) => b.writeUInt32LE(5, 44));
      expect(readAsxipfs(wrongCount).fsidCheck).to.deep.equal({ crcMatches: true, filesMatches: false });
      expectFormatError(() => readAsxipfs(wrongCount, { verifyFsid: true }), 'asxipfs-file-count-mismatch', 44);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0xffffffff, 44)), { verifyFsid: true }), 'asxipfs-too-many-entries', 44);
    });

    it('feature flags the device does not support', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0x1003, 8))), 'asxipfs-unsupported-flags', 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0x80000003, 8))), 'asxipfs-unsupported-flags', 8);
      expect(readAsxipfs(patched(body, (b) => b.writeUInt32LE(0x203, 8))).flags).to.equal(0x203);
    });

    it('root inode not a directory, or named', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt16LE(0o100644, ROOT))), 'asxipfs-root-not-directory', ROOT);
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[ROOT + 8] |= 1))), 'asxipfs-root-has-name', ROOT + 8);
    });

    it('root children anywhere but right after the superblock (without SHIFTED_ROOT_OFFSET)', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, ROOT, 80))), 'asxipfs-bad-root-offset', ROOT + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, ROOT, BODY_LENGTH - 12))), 'asxipfs-bad-root-offset', ROOT + 8);
    });

    it('directory children out of bounds (past the end, or inside the superblock)', () => {
      const shifted = (edit: (b: Buffer) => void) => patched(body, (b) => (b.writeUInt32LE(0x403, 8), edit(b)));
      expectFormatError(() => readAsxipfs(shifted((b) => setInodeOffset(b, ROOT, BODY_LENGTH - 12))), 'asxipfs-dir-out-of-bounds', ROOT + 8);
      expectFormatError(() => readAsxipfs(shifted((b) => setInodeOffset(b, ROOT, 16))), 'asxipfs-dir-out-of-bounds', ROOT + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, BIN_INODE, 0xfffffc))), 'asxipfs-dir-out-of-bounds', BIN_INODE + 8);
    });

    it('directory size not a multiple of 4', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeSize(b, ROOT, 47))), 'asxipfs-dir-size-misaligned', ROOT + 4);
    });

    it('an inode record or its name running past its directory', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeSize(b, ROOT, 52))), 'asxipfs-inode-truncated', 124);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeSize(b, ROOT, 44))), 'asxipfs-name-out-of-bounds', BIN_INODE + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[BIN_INODE + 8] = (b[BIN_INODE + 8]! & ~0x3f) | 0x3f))), 'asxipfs-name-out-of-bounds', BIN_INODE + 8);
    });

    it('file data out of bounds (in whole pages, as the device reads it), or inside the inode table', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, MANIFEST_INODE, BODY_LENGTH))), 'asxipfs-data-out-of-bounds', MANIFEST_INODE + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeSize(b, APP_INODE, 0xffffff))), 'asxipfs-data-out-of-bounds', APP_INODE + 8);
      // 261 bytes in the last page fit; 4097 bytes need a page past the end.
      expect(readAsxipfs(patched(body, (b) => setInodeOffset(b, MANIFEST_INODE, BODY_LENGTH - 4096))).getEntry('app_manifest.json')!.dataOffset).to.equal(24_576);
      expectFormatError(() => readAsxipfs(patched(body, (b) => (setInodeOffset(b, MANIFEST_INODE, BODY_LENGTH - 4096), setInodeSize(b, MANIFEST_INODE, 4097)))), 'asxipfs-data-out-of-bounds', MANIFEST_INODE + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, APP_INODE, 0))), 'asxipfs-data-overlaps-inodes', APP_INODE + 8);
    });

    it('XIP data off a page boundary', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, MANIFEST_INODE, 4100))), 'asxipfs-data-misaligned', MANIFEST_INODE + 8);
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, MANIFEST_INODE, 76))), 'asxipfs-data-misaligned', MANIFEST_INODE + 8);
    });

    it('a regular file without the XIP bit', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt16LE(0o100644, MANIFEST_INODE))), 'asxipfs-file-not-xip', MANIFEST_INODE);
    });

    it('a non-XIP symlink that is empty or not NUL-terminated', () => {
      const built = buildAsxipfs([{ path: 'l', data: Buffer.from('target'), mode: 0o120777 }]);
      const link = readAsxipfs(built).getEntry('l')!;
      const plain = patched(built, (b) => b.writeUInt16LE(0o120777, link.inodeOffset));
      expect(readAsxipfs(plain).getEntry('l')).to.include({ target: 'target', mode: 0o120777 });
      expectFormatError(() => readAsxipfs(patched(plain, (b) => (b[link.dataOffset + 6] = 0x21))), 'asxipfs-bad-symlink', link.inodeOffset + 4);
      expectFormatError(() => readAsxipfs(patched(plain, (b) => setInodeSize(b, link.inodeOffset, 0))), 'asxipfs-bad-symlink', link.inodeOffset + 4);
    });

    it('directory cycles and overlapping inode tables', () => {
      // bin -> the root's children: bin/bin/bin/...
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, BIN_INODE, 76))), 'asxipfs-directory-cycle', BIN_INODE + 8);
      // bin's children start at its own record: it contains itself, misaligned with the root's.
      expectFormatError(() => readAsxipfs(patched(body, (b) => setInodeOffset(b, BIN_INODE, BIN_INODE))), 'asxipfs-inode-overlap', BIN_INODE + 8);
      // A deeper cycle in a built image: a/b/c points back at a's children.
      const built = buildAsxipfs([{ path: 'a/b/c/f', data: Buffer.from('f') }]);
      const image = readAsxipfs(built);
      const c = image.getEntry('a/b/c')!;
      const bStart = image.getEntry('a')!.dataOffset;
      expectFormatError(() => readAsxipfs(patched(built, (b) => setInodeOffset(b, c.inodeOffset, bStart))), 'asxipfs-directory-cycle', c.inodeOffset + 8);
    });

    it('absurd depth', () => {
      const path = `${Array.from({ length: 70 }, () => 'd').join('/')}/f`;
      const built = buildAsxipfs([{ path, data: Buffer.from('f') }]);
      const deep = readAsxipfs(built, { maxDepth: 100 });
      const tooDeep = deep.entries.find((e) => e.path.split('/').length === 65)!;
      expectFormatError(() => readAsxipfs(built), 'asxipfs-too-deep', tooDeep.inodeOffset);
    });

    it('absurd entry counts', () => {
      const built = buildAsxipfs(Array.from({ length: 20 }, (_, i) => ({ path: `f${String(i).padStart(2, '0')}`, data: Buffer.from([i]) })));
      const eleventh = readAsxipfs(built).entries[10]!;
      // fsid.files is checked up front only when trusted; otherwise the walk stops at the 11th entry.
      expectFormatError(() => readAsxipfs(built, { maxEntries: 10, verifyFsid: true }), 'asxipfs-too-many-entries', 44);
      expectFormatError(() => readAsxipfs(built, { maxEntries: 10 }), 'asxipfs-too-many-entries', eleventh.inodeOffset);
    });

    it('non-UTF-8 names', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[BIN_NAME] = 0xff))), 'asxipfs-name-not-utf8', BIN_NAME);
    });

    it("names containing '/' or NUL, '.' or '..', or no name at all", () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[BIN_NAME + 1] = 0x2f))), 'asxipfs-name-has-slash', BIN_NAME + 1);
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[BIN_NAME + 1] = 0))), 'asxipfs-name-has-nul', BIN_NAME + 1);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.write('..\0\0', BIN_NAME, 'latin1'))), 'asxipfs-dot-name', BIN_NAME);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.write('.\0\0\0', BIN_NAME, 'latin1'))), 'asxipfs-dot-name', BIN_NAME);
      expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt32LE(0, BIN_NAME))), 'asxipfs-empty-name', BIN_NAME);
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[APP_INODE + 8] &= ~0x3f))), 'asxipfs-empty-name', APP_INODE + 8);
    });

    it('unsorted or duplicate names', () => {
      expectFormatError(() => readAsxipfs(patched(body, (b) => (b[MANIFEST_INODE + 12] = 0x7a))), 'asxipfs-unsorted-directory', BIN_NAME);
      const built = buildAsxipfs([{ path: 'a/x', data: Buffer.from('1') }, { path: 'b/x', data: Buffer.from('2') }]);
      const b = readAsxipfs(built).getEntry('b')!;
      const duplicate = patched(built, (img) => (img[b.inodeOffset + 12] = 0x61));
      expectFormatError(() => readAsxipfs(duplicate), 'asxipfs-duplicate-name', b.inodeOffset + 12);
      // Without the sorted flag, duplicates are still refused.
      expectFormatError(() => readAsxipfs(patched(duplicate, (img) => img.writeUInt32LE(1, 8))), 'asxipfs-duplicate-name', b.inodeOffset + 12);
    });

    it('inode types other than file, directory and symlink', () => {
      for (const type of [0o020000, 0o060000, 0o010000, 0o140000, 0o000000]) {
        expectFormatError(() => readAsxipfs(patched(body, (b) => b.writeUInt16LE(type | 0o1644, MANIFEST_INODE))), 'asxipfs-unsupported-type', MANIFEST_INODE);
      }
    });

    it('a symlink target that is not UTF-8', () => {
      const built = buildAsxipfs([{ path: 'l', data: Buffer.from([0xc3, 0x28]), mode: 0o120777 }]);
      expectFormatError(() => readAsxipfs(built), 'asxipfs-symlink-not-utf8', 4096);
    });
  });

  describe('random mutations', function () {
    this.timeout(30_000);

    // Seeded, so a failing run can be replayed with ASXIPFS_FUZZ_SEED.
    const seed = process.env.ASXIPFS_FUZZ_SEED !== undefined ? Number(process.env.ASXIPFS_FUZZ_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0;
    const interesting = [0, 1, 3, 4, 0x3f, 0x40, 0xff, 0xfff, 0x1000, 0x7000, 0xffff, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xffffffff];

    function mutate(original: Buffer, random: () => number, structureEnd: number): { bytes: Buffer; what: string } {
      const int = (n: number): number => Math.floor(random() * n);
      // Most mutations hit the superblock and inode table, where the parser has decisions to make.
      const position = (): number => (random() < 0.8 ? int(Math.min(structureEnd, original.length)) : int(original.length));
      const kind = int(4);
      if (kind === 0) {
        const bytes = Buffer.from(original);
        const flips = 1 + int(4);
        const where: number[] = [];
        for (let i = 0; i < flips; i++) {
          const at = position();
          bytes[at]! ^= 1 + int(255);
          where.push(at);
        }
        return { bytes, what: `flip bytes at ${where.join(',')}` };
      }
      if (kind === 1) {
        const length = random() < 0.5 ? int(structureEnd + 64) : int(original.length);
        return { bytes: Buffer.from(original.subarray(0, length)), what: `truncate to ${length}` };
      }
      if (kind === 2) {
        const at = position();
        const inserted = Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256)));
        return { bytes: Buffer.concat([original.subarray(0, at), inserted, original.subarray(at)]), what: `insert ${inserted.toString('hex')} at ${at}` };
      }
      const bytes = Buffer.from(original);
      const at = int(Math.floor(Math.min(structureEnd, original.length) / 4)) * 4;
      const value = random() < 0.5 ? interesting[int(interesting.length)]! : int(2 ** 32);
      bytes.writeUInt32LE(value >>> 0, at);
      return { bytes, what: `u32 0x${(value >>> 0).toString(16)} at ${at}` };
    }

    function fuzz(name: string, original: Buffer, structureEnd: number, iterations: number): void {
      const random = seededRandom(seed ^ name.length);
      let parsed = 0;
      for (let i = 0; i < iterations; i++) {
        const { bytes, what } = mutate(original, random, structureEnd);
        // A quarter check the fsid too; the rest let the walker see the corrupt structure.
        const verifyFsid = i % 4 === 0;
        try {
          const image = readAsxipfs(bytes, { verifyFsid });
          for (const entry of image.entries) if (entry.type !== 'directory') image.readFile(entry.path);
          parsed++;
        } catch (error) {
          if (!(error instanceof FormatError)) {
            throw new Error(`${name}: mutation #${i} (${what}, verifyFsid ${verifyFsid}) threw ${String(error)}; replay with ASXIPFS_FUZZ_SEED=${seed}`);
          }
          if (typeof error.offset !== 'number' || !error.code.startsWith('asxipfs-')) {
            throw new Error(`${name}: mutation #${i} (${what}) gave FormatError without code/offset: ${error.code}; replay with ASXIPFS_FUZZ_SEED=${seed}`);
          }
        }
      }
      expect(parsed, `seed ${seed}`).to.be.greaterThan(0);
    }

    it('10,000 mutations of the real body each parse or throw FormatError', () => {
      fuzz('real', realBody(), 160, 10_000);
    });

    it('10,000 mutations of a built image each parse or throw FormatError', () => {
      const built = buildAsxipfs([
        { path: 'app_manifest.json', data: Buffer.from('{"SchemaVersion":1}') },
        { path: 'bin/app', data: Buffer.alloc(3000, 0x7f), mode: 0o755 },
        { path: 'bin/lib/libx.so', data: Buffer.alloc(100, 1) },
        { path: 'bin/lib/link', data: Buffer.from('libx.so'), mode: 0o120777 },
        { path: 'data/empty', data: Buffer.alloc(0) },
        { path: 'data/a/b/c/d.txt', data: Buffer.from('deep') },
      ]);
      const image = readAsxipfs(built);
      const structureEnd = Math.max(...image.entries.map((e) => e.inodeOffset)) + 32;
      fuzz('built', built, structureEnd, 10_000);
    });
  });
});
