import { parseAppManifest } from '../../../src/image/app-manifest.js';
import { ASXIPFS_MAGIC, ASXIPFS_SIGNATURE, buildAsxipfs, readAsxipfs } from '../../../src/image/asxipfs.js';
import { FormatError } from '../../../src/image/format-error.js';
import { parseImagePackage } from '../../../src/image/image-package.js';
import { mutateBytes, type HotRange } from '../mutate.js';
import { Random } from '../random.js';
import { readRepoFile } from '../seed-files.js';
import { InvariantViolation, type FuzzTarget } from '../target.js';

/**
 * The ASXipFS reader (asxipfs.ts) on its own: the real app's file system (the body
 * of fixtures/azure-sphere/test_app.imagepackage) and a deeper tree built with the
 * project's buildAsxipfs. Each input is read as the device reads it and with
 * verifyFsid, every entry looked up and every file read back, and the app manifest
 * parsed when there is one. A file read back must be exactly its size.
 */

function seedBodies(): Buffer[] {
  const real = Buffer.from(parseImagePackage(readRepoFile('fixtures/azure-sphere/test_app.imagepackage')).body);
  const random = new Random(0xa5);
  const built = buildAsxipfs([
    { path: 'app_manifest.json', data: Buffer.from('{"SchemaVersion":1,"Name":"x","ComponentId":"0e5a2b1c-3d4e-4f50-8a9b-0c1d2e3f4a5b","EntryPoint":"/bin/app","CmdArgs":[],"Capabilities":{}}') },
    { path: 'bin/app', data: random.bytes(300), mode: 0o755 },
    { path: 'bin/tool', data: random.bytes(5000), mode: 0o755 },
    { path: 'etc/a/b/c/deep.txt', data: Buffer.from('deep') },
    { path: 'etc/empty', data: Buffer.alloc(0) },
    { path: 'etc/link', data: Buffer.from('a/b/c/deep.txt'), mode: 0o120777 },
    { path: 'z\u00e9\u00e8', data: Buffer.from('utf-8 name') },
  ]);
  return [real, built];
}

const u32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
};

const DICTIONARY: Buffer[] = [
  u32(ASXIPFS_MAGIC),
  Buffer.from(ASXIPFS_SIGNATURE, 'latin1'),
  u32(0o040755),
  u32(0o101644),
  u32(0o121777),
  u32(0x1000 << 6),
  u32(76 << 4),
  Buffer.from('..\0\0'),
  Buffer.from('.\0\0\0'),
  Buffer.from('a/b\0'),
];

/** Superblock, root inode and the inode table. */
const HOT: HotRange[] = [{ from: 0, to: 400 }];

function walk(input: Buffer, verifyFsid: boolean): void {
  const fs = readAsxipfs(input, { verifyFsid });
  for (const entry of fs.entries) {
    if (fs.getEntry(entry.path) !== entry) throw new InvariantViolation(`getEntry(${JSON.stringify(entry.path)}) does not find its own entry`);
    if (entry.type === 'directory') continue;
    const data = fs.readFile(`/${entry.path}`);
    if (data.length !== entry.size) throw new InvariantViolation(`readFile(${JSON.stringify(entry.path)}) gave ${data.length} bytes; the entry says ${entry.size}`);
  }
  const manifest = fs.entries.find((e) => e.path === 'app_manifest.json' && e.type === 'file');
  if (manifest && !verifyFsid) parseAppManifest(fs.readFile(manifest.path));
}

/** Read as the device reads it (its refusal is the input's outcome), then with verifyFsid (which may refuse too). */
export function readFileSystem(input: Buffer): void {
  let refusal: unknown;
  try {
    walk(input, false);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    refusal = error;
  }
  try {
    walk(input, true);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
  }
  if (refusal !== undefined) throw refusal;
}

export const asxipfsTarget: FuzzTarget = {
  name: 'asxipfs',
  async prepare() {
    const seeds = seedBodies();
    return {
      seedCount: seeds.length,
      generate: (rng) => mutateBytes(rng, rng.pick(seeds), seeds, { hot: HOT, dictionary: DICTIONARY }),
      run: readFileSystem,
      isRejection: (error) => error instanceof FormatError && error.code.length > 0,
    };
  },
};
