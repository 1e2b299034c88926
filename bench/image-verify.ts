/**
 * Parse + verify throughput of a 16 MiB signed image, against Node's raw SHA-256
 * throughput measured in the same run (the ceiling: verification hashes every
 * byte once). Target: ratio >= 0.8.
 *   node --import tsx bench/image-verify.ts [--mib 16] [--rounds 20]
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildSignedImage } from '../src/image/image-builder.js';
import { parseImagePackage } from '../src/image/image-package.js';
import { verifyImagePackage } from '../src/image/image-signing.js';
import { ImageType } from '../src/image/image-types.js';
import { rawSignerFor } from '../src/pki/raw-signer.js';
import { generateSigningRoles, findSigningRole, signingRolesKeystore } from '../src/pki/signing-roles.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '16' }, rounds: { type: 'string', default: '20' } } });
const mib = Number(values.mib);
const rounds = Number(values.rounds);

const roles = await generateSigningRoles({ roles: ['os'] });
const keystore = signingRolesKeystore(roles);
const image = buildSignedImage(
  randomBytes(mib * 1024 * 1024),
  { imageType: ImageType.RootFs, componentId: '5e8c0c1e-0008-4a61-9d4b-000000000008', name: 'bench', securityVersion: 1 },
  rawSignerFor(findSigningRole(roles, 'os')),
);

function timeIt(fn: () => void): number {
  fn(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const verifySeconds = timeIt(() => {
  const result = verifyImagePackage(parseImagePackage(image), keystore);
  if (!result.verified) throw new Error('benchmark image failed to verify');
});
const hashSeconds = timeIt(() => createHash('sha256').update(image).digest());

const mbps = (seconds: number) => (image.length * rounds) / seconds / 1e6;
const verifyRate = mbps(verifySeconds);
const hashRate = mbps(hashSeconds);
console.log(`image size           ${(image.length / 1048576).toFixed(1)} MiB x ${rounds} rounds`);
console.log(`parse+verify         ${verifyRate.toFixed(0)} MB/s`);
console.log(`raw SHA-256 ceiling  ${hashRate.toFixed(0)} MB/s`);
console.log(`ratio                ${(verifyRate / hashRate).toFixed(3)} (target >= 0.8)`);
