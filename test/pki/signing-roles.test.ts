import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCertificates } from '../../src/pki/certificate.js';
import { rawSignerFor } from '../../src/pki/raw-signer.js';
import { exportPrivateKeyPem, generateSigningKeyPair, verifyRaw } from '../../src/pki/signing-key.js';
import {
  findSigningRole,
  generateSigningRoles,
  loadSigningRoles,
  SIGNING_ROLES,
  signingRolesKeystore,
  writeSigningRoles,
  type RoleKeys,
} from '../../src/pki/signing-roles.js';
import { InputError } from '../../src/util/failure.js';
import { openssl, ScratchDir } from './openssl.js';

describe('signing roles', () => {
  let roles: RoleKeys[];
  let scratch: ScratchDir;

  before(async () => {
    roles = await generateSigningRoles();
  });
  beforeEach(() => {
    scratch = new ScratchDir();
  });
  afterEach(() => scratch.remove());

  it('gives each role its own P-256 key and a 20-year self-signed code-signing certificate', () => {
    expect(roles.map((r) => r.role)).to.deep.equal(['os', 'production-app', 'development-app', 'capability']);
    expect(new Set(roles.map((r) => r.cert.thumbprintHex)).size).to.equal(4);
    const os = findSigningRole(roles, 'os');
    expect(os.cert.subject).to.equal('CN=sphere-rig OS signing, O=sphere-rig');
    expect(os.cert.isSignedBy(os.cert)).to.equal(true);
    expect(os.cert.extendedKeyUsages).to.deep.equal(['codeSigning']);
    const years = (os.cert.notAfter.getTime() - os.cert.notBefore.getTime()) / (365.25 * 24 * 3600 * 1000);
    expect(years).to.be.closeTo(20, 0.01);
    for (const role of roles) expect(role.cert.subject).to.match(/^CN=sphere-rig .* signing, O=sphere-rig$/);
  });

  it('signs raw r||s under the certificate thumbprint an image SG section carries', () => {
    const signer = rawSignerFor(findSigningRole(roles, 'production-app'));
    const data = Buffer.from('image bytes');
    expect(signer.thumbprint.equals(findSigningRole(roles, 'production-app').cert.thumbprint)).to.equal(true);
    expect(verifyRaw(findSigningRole(roles, 'production-app').publicKey, data, signer.sign(data))).to.equal(true);
    expect(() => rawSignerFor({ cert: roles[0]!.cert, privateKey: roles[1]!.privateKey })).to.throw(InputError, /does not belong/);
  });

  it('writes keys (0600), certificates, a keystore bundle and an index, and loads them back', async () => {
    const dir = join(scratch.path, 'keys');
    const index = await writeSigningRoles(dir, roles);
    expect(readdirSync(dir).sort()).to.deep.equal(
      [...SIGNING_ROLES.flatMap((r) => [`${r}.key.pem`, `${r}.cert.pem`]), 'keystore.pem', 'keys.json'].sort(),
    );
    for (const role of SIGNING_ROLES) {
      expect(statSync(join(dir, `${role}.key.pem`)).mode & 0o777).to.equal(0o600);
      const key = openssl(['pkey', '-in', join(dir, `${role}.key.pem`), '-noout', '-text']);
      expect(key.status).to.equal(0);
      expect(key.stdout).to.match(/prime256v1|P-256/);
    }
    expect(statSync(dir).mode & 0o777).to.equal(0o700);

    const onDisk = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as typeof index;
    expect(onDisk).to.deep.equal(index);
    expect(onDisk.roles.map((r) => [r.role, r.key, r.cert, r.thumbprint, r.subject])).to.deep.equal(
      roles.map((r) => [r.role, `${r.role}.key.pem`, `${r.role}.cert.pem`, r.cert.thumbprintHex, r.cert.subject]),
    );
    expect((await loadCertificates(join(dir, 'keystore.pem'))).map((c) => c.thumbprintHex)).to.deep.equal(roles.map((r) => r.cert.thumbprintHex));

    const loaded = await loadSigningRoles(dir);
    expect(loaded.map((r) => r.role)).to.deep.equal(roles.map((r) => r.role));
    loaded.forEach((r, i) => {
      expect(r.cert.equals(roles[i]!.cert)).to.equal(true);
      expect(exportPrivateKeyPem(r.privateKey)).to.equal(exportPrivateKeyPem(roles[i]!.privateKey));
    });
    const keystore = signingRolesKeystore(loaded);
    expect(keystore.findByThumbprint(findSigningRole(roles, 'capability').cert.thumbprint)?.role).to.equal('capability');
  });

  it('refuses to overwrite an existing key set, before writing anything, unless forced', async () => {
    const dir = scratch.path;
    await writeSigningRoles(dir, roles);
    const before = readFileSync(join(dir, 'os.key.pem'), 'utf8');
    const fresh = await generateSigningRoles();
    const error = await writeSigningRoles(dir, fresh).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InputError).and.include({ code: 'signing-keys-exist' });
    expect((error as Error).message).to.contain(dir).and.contain('--force');
    expect(readFileSync(join(dir, 'os.key.pem'), 'utf8')).to.equal(before);

    await writeSigningRoles(dir, fresh, { force: true });
    expect(readFileSync(join(dir, 'os.key.pem'), 'utf8')).to.not.equal(before);
    expect(statSync(join(dir, 'os.key.pem')).mode & 0o777).to.equal(0o600);
    expect((await loadSigningRoles(dir))[0]!.cert.equals(fresh[0]!.cert)).to.equal(true);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('refuses even when only one of the files is already there', async () => {
    writeFileSync(join(scratch.path, 'keys.json'), '{}');
    const error = await writeSigningRoles(scratch.path, roles).catch((e: unknown) => e);
    expect(error).to.include({ code: 'signing-keys-exist' });
    expect(readdirSync(scratch.path)).to.deep.equal(['keys.json']);
  });

  it('names the file when a key set cannot be loaded', async () => {
    const dir = scratch.path;
    const missingIndex = await loadSigningRoles(dir).catch((e: unknown) => e);
    expect(missingIndex).to.be.instanceOf(InputError);
    expect((missingIndex as Error).message).to.contain(join(dir, 'keys.json')).and.contain('keys generate');

    await writeSigningRoles(dir, roles);
    writeFileSync(join(dir, 'os.key.pem'), exportPrivateKeyPem(generateSigningKeyPair().privateKey));
    const mismatch = await loadSigningRoles(dir).catch((e: unknown) => e);
    expect(mismatch).to.include({ code: 'signing-keys-mismatch' });
    expect((mismatch as Error).message).to.contain(join(dir, 'os.key.pem'));

    writeFileSync(join(dir, 'os.key.pem'), 'garbage');
    expect((await loadFailure(dir)).message).to.contain(join(dir, 'os.key.pem'));

    writeFileSync(join(dir, 'os.key.pem'), exportPrivateKeyPem(roles[0]!.privateKey));
    writeFileSync(join(dir, 'os.cert.pem'), roles[1]!.cert.toPem());
    expect((await loadFailure(dir)).message).to.contain(join(dir, 'os.key.pem')).and.contain('does not belong');

    const index = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as { roles: { key: string }[] };
    index.roles[0]!.key = '../elsewhere.key.pem';
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(index));
    const outside = await loadFailure(dir);
    expect(outside).to.include({ code: 'signing-keys-malformed' });
    expect(outside.message).to.contain('roles[0].key');

    writeFileSync(join(dir, 'keys.json'), '{ not json');
    expect((await loadFailure(dir)).message).to.match(/keys\.json: not JSON/);
  });
});

/** The error loading `dir` fails with; a load that succeeds fails the test. */
async function loadFailure(dir: string): Promise<Error> {
  const result = await loadSigningRoles(dir).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(result instanceof Error)) throw new Error(`expected loading ${dir} to fail`);
  return result;
}
