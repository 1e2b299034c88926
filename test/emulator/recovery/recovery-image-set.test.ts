import { expect } from 'chai';
import { checkRecovery1bl } from '../../../src/emulator/recovery/recovery-file-checks.js';
import { RecoveryRefusal } from '../../../src/emulator/recovery/recovery-refusal.js';
import { buildSignedImage } from '../../../src/image/image-builder.js';
import { parseImagePackage, readImageFacts } from '../../../src/image/image-package.js';
import { verifyImagePackage } from '../../../src/image/image-signing.js';
import { parseRecoveryManifest, PartitionType } from '../../../src/image/recovery-manifest.js';
import { inspectRecoverySet } from '../../../src/image/recovery-set-inspection.js';
import {
  imageIdFromRecoveryFileName,
  RECOVERY_1BL_COMPONENT_ID,
  RECOVERY_RUNTIME_COMPONENT_ID,
  recoveryImageFileName,
} from '../../../src/image/recovery-set-layout.js';
import { RecoveryErrorCode } from '../../../src/link/recovery-error-codes.js';
import { PAD } from '../../../src/link/xmodem.js';
import { rawSignerFor } from '../../../src/pki/raw-signer.js';
import { findSigningRole } from '../../../src/pki/signing-roles.js';
import { RecoveryKeys } from './memory-recovery-rig.js';

describe('recovery image sets: what `recovery build` writes and `recovery inspect` checks', () => {
  let keys: RecoveryKeys;
  let set: ReturnType<RecoveryKeys['set']>;

  before(async () => {
    keys = await RecoveryKeys.generate();
    set = keys.set('23.01');
  });

  it('holds a 16,384-byte OneBL, the 60 KiB runtime (PlutonRuntime, own component), the type-26 manifest and every OS image, all OS-signed', () => {
    const [oneBl, runtime, manifest, ...images] = set.files;
    expect(oneBl!.name).to.equal('recovery-1bl-rtm.bin');
    expect(oneBl!.bytes.length).to.equal(16_384);
    expect(readImageFacts(parseImagePackage(oneBl!.bytes)).identity).to.deep.include({ imageType: 1, componentId: RECOVERY_1BL_COMPONENT_ID });
    expect(runtime!.name).to.equal('recovery-runtime.bin');
    expect(runtime!.bytes.length).to.equal(60 * 1024);
    expect(readImageFacts(parseImagePackage(runtime!.bytes)).identity).to.deep.include({ imageType: 2, componentId: RECOVERY_RUNTIME_COMPONENT_ID });
    expect(manifest!.name).to.equal('recovery.imagemanifest');
    const manifestPackage = parseImagePackage(manifest!.bytes);
    expect(readImageFacts(manifestPackage).identity?.imageType).to.equal(26);
    const body = parseRecoveryManifest(manifestPackage.body);
    expect(body.entries.map((e) => e.imageId)).to.deep.equal(set.osImages.map((i) => i.imageId));
    expect(body.entries.map((e) => e.fileSize)).to.deep.equal(set.osImages.map((i) => i.bytes.length));
    expect(body.entries[0]!.partitionType).to.equal(PartitionType.BootloaderOne);
    expect(body.entries[1]!.partitionType).to.equal(PartitionType.BootManifest);
    expect(images.map((f) => f.name)).to.deep.equal(set.osImages.map((i) => recoveryImageFileName(i.imageId)));
    for (const file of set.files) expect(verifyImagePackage(parseImagePackage(file.bytes), keys.romTrust()).verified, file.name).to.equal(true);
  });

  it('names image files by the image ID as 32 hex digits, and back', () => {
    const id = 'c25d88f4-9900-4a8e-9d2c-afc199c28151';
    expect(recoveryImageFileName(id)).to.equal('c25d88f499004a8e9d2cafc199c28151.bin');
    expect(imageIdFromRecoveryFileName('C25D88F499004A8E9D2CAFC199C28151.BIN')).to.equal(id);
    expect(imageIdFromRecoveryFileName('recovery-runtime.bin')).to.equal(undefined);
  });

  it('inspection: consistent as built; finds missing, swapped, unlisted and foreign-signed files', () => {
    expect(inspectRecoverySet(set.files, { trust: keys.romTrust() }).consistent).to.equal(true);
    const files = set.files.map((f) => ({ ...f }));
    const swappedName = files[4]!.name;
    files[4] = { name: swappedName, bytes: files[5]!.bytes };
    const missing = files.splice(6, 1)[0]!;
    const other = keys.set('23.02');
    files.push({ name: other.files[3]!.name, bytes: other.files[3]!.bytes });
    files[1] = { name: 'recovery-runtime.bin', bytes: keys.set('23.01', { foreign: true }).files[1]!.bytes };
    const report = inspectRecoverySet(files, { trust: keys.romTrust() });
    expect(report.consistent).to.equal(false);
    expect(report.problems.join('\n')).to.include(`${missing.name} (`);
    const byName = new Map(report.files.map((f) => [f.name, f]));
    expect(byName.get(swappedName)!.problems.join('\n')).to.match(/image ID .* the manifest says/);
    expect(byName.get(other.files[3]!.name)!.problems).to.deep.equal(['an image file the manifest does not list']);
    expect(byName.get('recovery-runtime.bin')!.problems.join('\n')).to.match(/signature not verified \(untrusted-signer\)/);
    expect(report.problems.join('\n')).to.match(/signed by 2 different signers/);
  });

  it('the ROM finds a 1BL that was not a whole number of XMODEM blocks under its 0x1a padding', () => {
    const signer = rawSignerFor(findSigningRole(keys.roles, 'os'));
    const spec = { imageType: 1, componentId: RECOVERY_1BL_COMPONENT_ID, name: 'odd 1bl', securityVersion: 1 };
    for (const bodyBytes of [1000, 1001, 1002, 1003]) {
      const image = buildSignedImage(Buffer.alloc(bodyBytes, 0x5a), spec, signer);
      const padded = Buffer.concat([image, Buffer.alloc((128 - (image.length % 128)) % 128, PAD)]);
      expect(checkRecovery1bl(padded, keys.romTrust(), {}).bytes.length).to.equal(image.length);
    }
    const foreign = buildSignedImage(Buffer.alloc(1000), spec, rawSignerFor(findSigningRole(keys.foreign, 'os')));
    let refusal: unknown;
    try {
      checkRecovery1bl(Buffer.concat([foreign, Buffer.alloc(50, PAD)]), keys.romTrust(), {});
    } catch (error) {
      refusal = error;
    }
    expect(refusal).to.be.instanceOf(RecoveryRefusal);
    expect((refusal as RecoveryRefusal).recoveryCode).to.equal(RecoveryErrorCode.UntrustedCertificate);
  });
});
