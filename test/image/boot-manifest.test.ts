import { expect } from 'chai';
import { parseBootManifestBody } from '../../src/image/boot-manifest.js';
import { FormatError } from '../../src/image/format-error.js';
import { buildSignedImage } from '../../src/image/image-builder.js';
import { parseImagePackage, readImageFacts } from '../../src/image/image-package.js';
import { ImageType } from '../../src/image/image-types.js';
import { decodeKeystoreBody } from '../../src/firmware/keystore-image.js';
import { buildOsImageSet } from '../../src/firmware/os-image-set.js';
import { keystoreBodyFor } from '../../src/firmware/rig-keystore.js';
import { runSecureBoot } from '../../src/emulator/secure-boot.js';
import { rawSignerFor } from '../../src/pki/raw-signer.js';
import { findSigningRole, generateSigningRoles, signingRolesKeystore } from '../../src/pki/signing-roles.js';

const ENTRY = { imageType: ImageType.NormalWorldKernel, componentId: '5e8c0c1e-0007-4a61-9d4b-000000000007', imageId: '0b7e3d52-53c4-4b5a-9d7d-1d2f1e2a3b4c' };

function refusal(images: unknown[]): FormatError {
  try {
    parseBootManifestBody(Buffer.from(JSON.stringify({ osVersion: '22.11', images }), 'utf8'));
  } catch (error) {
    expect(error).to.be.instanceOf(FormatError);
    return error as FormatError;
  }
  expect.fail(`accepted ${JSON.stringify(images)}`);
}

/** The BootManifest body (this project's JSON encoding): every entry is checked, not just the array. */
describe('boot manifest body', () => {
  it('reads a well-formed body', () => {
    expect(parseBootManifestBody(Buffer.from(JSON.stringify({ osVersion: '22.11', images: [ENTRY] })))).to.deep.equal({ osVersion: '22.11', images: [ENTRY] });
  });

  it('refuses an entry that is not an object, naming images[i]', () => {
    for (const bad of [null, 7, 'kernel', [ENTRY]]) {
      const error = refusal([ENTRY, bad]);
      expect(error.code).to.equal('boot-manifest-invalid');
      expect(error.jsonPath).to.equal('$.images[1]');
      expect(error.message).to.equal('boot manifest entry images[1] is not an object (at $.images[1])');
    }
  });

  it('refuses an entry whose imageType, componentId or imageId is missing or of the wrong type, naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...ENTRY, imageType: '7' }, 'imageType'],
      [{ ...ENTRY, imageType: 7.5 }, 'imageType'],
      [{ componentId: ENTRY.componentId, imageId: ENTRY.imageId }, 'imageType'],
      [{ ...ENTRY, componentId: 7 }, 'componentId'],
      [{ ...ENTRY, imageId: null }, 'imageId'],
    ];
    for (const [entry, field] of cases) {
      const error = refusal([entry]);
      expect(error.code, JSON.stringify(entry)).to.equal('boot-manifest-invalid');
      expect(error.jsonPath, JSON.stringify(entry)).to.equal(`$.images[0].${field}`);
      expect(error.message).to.match(new RegExp(`^boot manifest entry images\\[0\\] needs ${field} `));
    }
  });

  it('a signed set whose manifest lists a null entry fails secure boot at the 1BL instead of throwing', async function () {
    this.timeout(20_000);
    const roles = await generateSigningRoles();
    const signer = rawSignerFor(findSigningRole(roles, 'os'));
    const set = buildOsImageSet({ osVersion: '22.11', securityVersion: 1, keystorePem: keystoreBodyFor(roles, false) }, signer);
    const manifest = set[1]!;
    expect(manifest.imageType).to.equal(ImageType.BootManifest);
    // Same number of entries as images, so only the entry check can catch it.
    const body = JSON.parse(parseImagePackage(manifest.bytes).body.toString('utf8')) as { osVersion: string; images: unknown[] };
    body.images[0] = null;
    const identity = readImageFacts(parseImagePackage(manifest.bytes)).identity!;
    const tampered = buildSignedImage(Buffer.from(JSON.stringify(body), 'utf8'), { imageType: ImageType.BootManifest, componentId: identity.componentId, imageId: identity.imageId, name: 'BootManifest' }, signer);
    const images = set.map((image, i) => (i === 1 ? tampered : image.bytes));

    const result = runSecureBoot({ images, romTrust: signingRolesKeystore(roles), trustFromPem: decodeKeystoreBody, fuses: {} });
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.failure).to.include({ stage: '1BL', imageType: ImageType.BootManifest, reason: 'boot manifest body unreadable' });
  });
});
