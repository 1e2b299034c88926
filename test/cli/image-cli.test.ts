import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, readFixture, SDK_TEST_CERT, TEST_APP } from '../helpers/fixtures.js';
import { runCli } from '../helpers/run-cli.js';

const MANIFEST = {
  SchemaVersion: 1,
  Name: 'Blinky',
  ComponentId: '819255ff-8640-41fd-aea7-f85d34c491d5',
  EntryPoint: '/bin/app',
  CmdArgs: [],
  Capabilities: { AllowedConnections: ['global.azure-devices-provisioning.net'], Gpio: [8, 9] },
  ApplicationType: 'Default',
};

/** DER ECDSA-Sig-Value from raw r || s, written here independently of src/. */
function rawToDer(raw: Buffer): Buffer {
  const integer = (bytes: Buffer) => {
    let b = bytes;
    while (b.length > 1 && b[0] === 0 && !(b[1]! & 0x80)) b = b.subarray(1);
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.length]), b]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32, 64))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('sphere-rig image and capability commands', function () {
  this.timeout(60_000);
  let dir: string;
  const sdkCert = fixturePath(SDK_TEST_CERT);
  const realApp = fixturePath(TEST_APP);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-cli-'));
    const keys = await runCli(['keys', 'generate', '--out', join(dir, 'keys')]);
    expect(keys.code, keys.stderr).to.equal(0);
    mkdirSync(join(dir, 'app', 'bin'), { recursive: true });
    writeFileSync(join(dir, 'app', 'bin', 'app'), Buffer.from('\x7fELF not really an app'), { mode: 0o755 });
    writeFileSync(join(dir, 'app', 'README'), 'hello\n');
    writeFileSync(join(dir, 'app_manifest.json'), JSON.stringify(MANIFEST));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const pack = (out: string, extra: string[] = [], manifest = join(dir, 'app_manifest.json')) =>
    runCli([
      'image', 'pack', '--root', join(dir, 'app'), '--manifest', manifest,
      '--key', join(dir, 'keys', 'development-app.key.pem'), '--cert', join(dir, 'keys', 'development-app.cert.pem'), '-o', out, ...extra,
    ]);

  it('inspect --json reports exactly the facts of the real SDK package, verified', async () => {
    const result = await runCli(['image', 'inspect', realApp, '--json', '--trust', sdkCert]);
    expect(result.code, result.stderr).to.equal(0);
    const report = JSON.parse(result.stdout);
    expect(report).to.deep.include({
      imageType: 10,
      imageTypeName: 'Applications',
      componentId: '1689d8b2-c835-2e27-27ad-e894d6d15fa9',
      imageId: 'c25d88f4-9900-4a8e-9d2c-afc199c28151',
      name: 'Anvil Test App',
      buildDate: '2020-09-10T03:40:38Z',
      temporaryImage: 2,
      securityVersion: null,
      metadataLength: 148,
      bodyLength: 28672,
    });
    expect(report.abiDepends).to.deep.equal([{ version: 5, identityType: 3, identityName: 'ApplicationRuntime' }]);
    expect(report.abiProvides).to.deep.equal([]);
    expect(report.sections.map((s: { id: string }) => s.id)).to.deep.equal(['ID', 'SG', 'DB', 'TP', 'ND']);
    expect(report.signature).to.deep.include({ thumbprint: 'a8d5cc6958f48710140d7a26160fc1cfc31f5df0', type: 1, verified: true });
    expect(report.signature.signer).to.match(/Azure Sphere SDK Test/);
    expect(report.manifest.ComponentId).to.equal(report.componentId);
    expect(report.files.map((f: { path: string }) => f.path)).to.include.members(['app_manifest.json', 'bin/app']);
  });

  it('inspect without --trust says the signature was not checked', async () => {
    const report = JSON.parse((await runCli(['image', 'inspect', realApp, '--json'])).stdout);
    expect(report.signature.verified).to.equal(null);
  });

  it('verify exits 0 for the real package and non-zero once any byte is flipped', async () => {
    expect((await runCli(['image', 'verify', realApp, '--trust', sdkCert])).code).to.equal(0);
    const original = readFixture(TEST_APP);
    // One flip in the body, one in the metadata, one in the signature.
    for (const position of [100, 28672 + 40, original.length - 5]) {
      const copy = Buffer.from(original);
      copy[position] = copy[position]! ^ 0x80;
      const path = join(dir, `flipped-${position}.imagepackage`);
      writeFileSync(path, copy);
      const result = await runCli(['image', 'verify', path, '--trust', sdkCert]);
      expect(result.code, `flip at ${position}: ${result.stdout}${result.stderr}`).to.not.equal(0);
      const inspect = await runCli(['image', 'inspect', path, '--json', '--trust', sdkCert]);
      if (inspect.code !== 2 && inspect.stdout.startsWith('{')) expect(JSON.parse(inspect.stdout).signature.verified).to.equal(false);
    }
  });

  it('packs an app whose signature OpenSSL verifies independently, and extracts the same files back', async () => {
    const out = join(dir, 'blinky.imagepackage');
    const result = await pack(out, ['--security-version', '3', '--development']);
    expect(result.code, result.stderr).to.equal(0);
    const bytes = readFileSync(out);
    const signed = bytes.subarray(0, bytes.length - 64);
    const der = rawToDer(bytes.subarray(bytes.length - 64));
    writeFileSync(join(dir, 'signed.bin'), signed);
    writeFileSync(join(dir, 'sig.der'), der);
    execFileSync('openssl', ['x509', '-in', join(dir, 'keys', 'development-app.cert.pem'), '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'signed.bin')]).toString();
    expect(openssl.trim()).to.equal('Verified OK');
    const cert = new X509Certificate(readFileSync(join(dir, 'keys', 'development-app.cert.pem')));
    expect(verify('sha256', signed, createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })), der)).to.equal(true);

    const report = JSON.parse((await runCli(['image', 'inspect', out, '--json', '--trust', join(dir, 'keys', 'development-app.cert.pem')])).stdout);
    expect(report).to.deep.include({ componentId: MANIFEST.ComponentId, name: 'Blinky', securityVersion: 3, temporaryImage: 2 });
    expect(report.signature.verified).to.equal(true);

    const extracted = await runCli(['image', 'extract', out, '--out', join(dir, 'extracted')]);
    expect(extracted.code, extracted.stderr).to.equal(0);
    expect(readFileSync(join(dir, 'extracted', 'bin', 'app')).equals(readFileSync(join(dir, 'app', 'bin', 'app')))).to.equal(true);
    expect(readFileSync(join(dir, 'extracted', 'README'), 'utf8')).to.equal('hello\n');
    expect(JSON.parse(readFileSync(join(dir, 'extracted', 'app_manifest.json'), 'utf8'))).to.deep.equal(MANIFEST);
  });

  it('extracts the real package: app_manifest.json and bin/app', async () => {
    const result = await runCli(['image', 'extract', realApp, '--out', join(dir, 'real')]);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(readFileSync(join(dir, 'real', 'app_manifest.json'), 'utf8')).ComponentId).to.equal('1689d8b2-c835-2e27-27ad-e894d6d15fa9');
    expect(readFileSync(join(dir, 'real', 'bin', 'app')).subarray(0, 4).toString('latin1')).to.equal('\x7fELF');
  });

  it('sign replaces the signer and keeps every other byte of body and sections', async () => {
    const out = join(dir, 'resigned.imagepackage');
    const result = await runCli(['image', 'sign', realApp, '--key', join(dir, 'keys', 'production-app.key.pem'), '--cert', join(dir, 'keys', 'production-app.cert.pem'), '-o', out]);
    expect(result.code, result.stderr).to.equal(0);
    expect((await runCli(['image', 'verify', out, '--trust', sdkCert])).code).to.equal(1);
    expect((await runCli(['image', 'verify', out, '--trust', join(dir, 'keys', 'production-app.cert.pem')])).code).to.equal(0);
    const before = JSON.parse((await runCli(['image', 'inspect', realApp, '--json'])).stdout);
    const after = JSON.parse((await runCli(['image', 'inspect', out, '--json'])).stdout);
    expect({ ...after, signature: null }).to.deep.equal({ ...before, signature: null });
  });

  it('refuses a manifest with no EntryPoint, naming the file, the JSON path and the device code', async () => {
    const { EntryPoint: _drop, ...noEntry } = MANIFEST;
    const manifest = join(dir, 'bad_manifest.json');
    writeFileSync(manifest, JSON.stringify(noEntry));
    const result = await pack(join(dir, 'bad.imagepackage'), [], manifest);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('bad_manifest.json').and.contain('$.EntryPoint').and.contain('device error 2097155');
  });

  it('names the file and byte offset of a malformed package, with exit code 1', async () => {
    const path = join(dir, 'truncated.imagepackage');
    writeFileSync(path, readFixture(TEST_APP).subarray(0, 50));
    const result = await runCli(['image', 'inspect', path]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/truncated\.imagepackage: image package is 50 bytes.*byte offset 50/);
  });

  it('gives usage errors exit code 2 and a hint', async () => {
    const result = await runCli(['image', 'verify', realApp]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/needs at least one --trust/);
    expect((await runCli(['image', 'inspect', join(dir, 'no-such-file')])).stderr).to.match(/no-such-file: cannot read image package: no such file/);
  });

  it('builds a 392-byte capability image bound to one device', async () => {
    const deviceId = 'ab'.repeat(64);
    const out = join(dir, 'caps.bin');
    const result = await runCli(['capability', 'build', '--device-id', deviceId, '--caps', '11,13', '--key', join(dir, 'keys', 'capability.key.pem'), '--cert', join(dir, 'keys', 'capability.cert.pem'), '-o', out]);
    expect(result.code, result.stderr).to.equal(0);
    const bytes = readFileSync(out);
    expect(bytes.length).to.equal(392);
    expect(bytes.subarray(12, 76).toString('hex')).to.equal(deviceId);
    expect([bytes.readUInt32LE(76), bytes.readUInt32LE(80), bytes.readUInt32LE(84)]).to.deep.equal([11, 13, 0]);
    expect(bytes.readUInt32LE(392 - 68)).to.equal(0x7c);
    expect((await runCli(['image', 'verify', out, '--trust', join(dir, 'keys', 'capability.cert.pem')])).code).to.equal(0);
    const bad = await runCli(['capability', 'build', '--device-id', 'abc', '--caps', '11', '-o', out]);
    expect(bad.code).to.equal(2);
  });
});
