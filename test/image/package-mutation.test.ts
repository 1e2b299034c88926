import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { packApplication } from '../../src/image/application-image.js';
import { readAsxipfs } from '../../src/image/asxipfs.js';
import { FormatError } from '../../src/image/format-error.js';
import { inspectImage } from '../../src/image/image-inspection.js';
import { parseImagePackage, readImageFacts } from '../../src/image/image-package.js';
import { generateSigningKeyPair, signRaw } from '../../src/pki/signing-key.js';
import { readFixture, TEST_APP } from '../helpers/fixtures.js';
import { seededRandom } from '../helpers/seeded-random.js';


function mutate(input: Buffer, random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const bytes = Buffer.from(input);
  switch (pick(6)) {
    case 0: // flip a few bits anywhere
      for (let i = 0, n = 1 + pick(4); i < n; i++) bytes[pick(bytes.length)] ^= 1 << pick(8);
      return bytes;
    case 1: // truncate
      return bytes.subarray(0, pick(bytes.length));
    case 2: // insert bytes
    {
      const at = pick(bytes.length);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256))), bytes.subarray(at)]);
    }
    case 3: // overwrite a u32 in the metadata tail (lengths, counts, magic)
    {
      const at = Math.max(0, bytes.length - 64 - 4 - pick(200));
      if (at + 4 <= bytes.length) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), at);
      return bytes;
    }
    case 4: // overwrite a u32 in the file system's superblock or inodes
    {
      const at = pick(Math.min(bytes.length - 4, 256));
      if (at >= 0) bytes.writeUInt32LE([0, 0xffffffff, 0x7fffffff, pick(2 ** 16), bytes.length][pick(5)]!, at);
      return bytes;
    }
    default: // overwrite a section header (id and length)
    {
      const at = Math.max(0, bytes.length - 64 - 4 - pick(160));
      if (at + 2 <= bytes.length) bytes.writeUInt16LE(pick(0x10000), at);
      return bytes;
    }
  }
}

/** Everything a reader of untrusted packages runs: layout, sections, file system, manifest. */
function readEverything(bytes: Buffer): void {
  const pkg = parseImagePackage(bytes);
  readImageFacts(pkg);
  inspectImage(bytes);
  try {
    readAsxipfs(pkg.body);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
  }
}

describe('image readers under random mutation', function () {
  this.timeout(120_000);
  const iterations = Number(process.env.SPHERE_RIG_FUZZ_ITERATIONS ?? 10_000);
  const seed = Number(process.env.SPHERE_RIG_FUZZ_SEED ?? Date.now() % 1_000_000);
  const key = generateSigningKeyPair();
  const signer = { thumbprint: randomBytes(20), sign: (data: Uint8Array) => signRaw(key.privateKey, data) };
  const packed = packApplication(
    {
      files: [
        { path: 'bin/app', data: randomBytes(5000), mode: 0o755 },
        { path: 'etc/config/settings.json', data: Buffer.from('{"a":1}') },
        { path: 'emu/behaviour.json', data: Buffer.from('{"log":["hi"]}') },
      ],
      manifestJson: Buffer.from(
        JSON.stringify({ SchemaVersion: 1, Name: 'Fuzz', ComponentId: '0e5a2b1c-3d4e-4f50-8a9b-0c1d2e3f4a5b', EntryPoint: '/bin/app', CmdArgs: ['-v'], Capabilities: { Gpio: [1] } }),
      ),
      securityVersion: 7,
    },
    signer,
  ).bytes;

  for (const [name, original] of [
    ['the real SDK package', readFixture(TEST_APP)],
    ['a packed app', packed],
  ] as const) {
    it(`${name}: ${iterations} mutations either parse or throw FormatError`, () => {
      const random = seededRandom(seed);
      const outcomes = { parsed: 0, rejected: 0 };
      for (let i = 0; i < iterations; i++) {
        const input = mutate(original, random);
        try {
          readEverything(input);
          outcomes.parsed++;
        } catch (error) {
          if (!(error instanceof FormatError)) {
            throw new Error(`mutation ${i} (seed ${seed}, SPHERE_RIG_FUZZ_SEED=${seed}) threw ${String(error)}\n${(error as Error).stack}`);
          }
          expect(error.message).to.be.a('string').and.not.equal('');
          outcomes.rejected++;
        }
      }
      expect(outcomes.parsed + outcomes.rejected).to.equal(iterations);
      // Both outcomes must occur, or the mutations are not reaching the parsers.
      expect(outcomes.rejected).to.be.greaterThan(iterations / 10);
      expect(outcomes.parsed).to.be.greaterThan(iterations / 20);
    });
  }
});
