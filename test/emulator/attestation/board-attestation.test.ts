import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { parseCertificates } from '../../../src/pki/certificate.js';
import { decodePkcs7Chain } from '../../../src/pki/pkcs7-chain.js';
import { toCertificateBundlePem } from '../../../src/pki/certificate.js';
import type { ControlError } from '../../../src/device/emulated/control-client.js';
import type { Measurement } from '../../../src/daa/protocol.js';
import type { ReferenceValues } from '../../../src/daa/reference-values.js';
import { EVIDENCE_EXTENSION_OID } from '../../../src/daa/protocol.js';
import { BOOT_ORDER, SYSTEM_COMPONENT_IDS } from '../../../src/firmware/os-image-set.js';
import { DaaFixture } from '../../daa/helpers/daa-fixture.js';
import { disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../../helpers/emulator-process.js';
import { b64, RigKeys } from '../../helpers/rig-keys.js';
import { openssl, ScratchDir } from '../../pki/openssl.js';

interface DeviceAuth {
  ready: boolean;
  certificatePem: string | null;
  chainPem: string | null;
  expiresAt: number | null;
  lastError: string | null;
}
interface Outcome {
  verdict: 'affirming' | 'refused' | 'failed';
  reasons?: Array<{ code: string }>;
  serialNumber?: string;
  measurements?: Measurement[];
  deviceAuth: DeviceAuth;
}

const DAY_MS = 24 * 3600 * 1000;

/** Accept any image of the components the board measured: what a tenant starts from. */
function componentsOf(measurements: Measurement[]): ReferenceValues {
  return { components: measurements.map((m) => ({ componentId: m.componentId, required: true, minimumSecurityVersion: 1 })) };
}

describe('emulated board: device authentication against the local DAA service', function () {
  this.timeout(120_000);
  let daa: DaaFixture;
  let stateDir: string;
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let scratch: ScratchDir;
  let tenantId: string;
  let deviceId: string;

  const attest = async () => (await board.control.request('attest', {})) as unknown as Outcome;
  const deviceAuth = async () => ((await board.control.request('device-auth', {})) as unknown as { deviceAuth: DeviceAuth }).deviceAuth;

  before(async () => {
    scratch = new ScratchDir();
    daa = await DaaFixture.start();
    stateDir = await EmulatorProcess.provision({ boards: 1 });
    emulator = await EmulatorProcess.start({ stateDir, daaUrl: daa.server.url });
    board = await emulator.connect(0);
    deviceId = board.surfaces.deviceId;
    const tenant = await daa.client.createTenant({ name: 'emulated-fleet' });
    tenantId = tenant.id;
    await daa.client.claimDevice(tenantId, deviceId);
    // Until the tenant has reference values nothing is trusted; these accept any image of the OS components.
    await daa.client.setReferenceValues(tenantId, {
      components: BOOT_ORDER.map((type) => ({ componentId: SYSTEM_COMPONENT_IDS[type]!, required: true, minimumSecurityVersion: 1 })),
    });
    await board.control.request('timings', { healthWindowMs: 50, watchdogMs: 20, appRestartMs: 10 });
  });

  after(async () => {
    await disconnect(board);
    await emulator?.stop();
    await daa?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    scratch.remove();
  });

  it('attests at boot: the certificate has CN=<device ID>, lasts 24 h, is for clientAuth, carries the evidence extension and verifies with openssl', async () => {
    const since = board.console.mark();
    await board.control.request('power', { on: true });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    await board.console.expect(/^\[DAA\] attestation ok: certificate [0-9a-f]+ until /, { timeoutMs: 10_000, since });
    const auth = await deviceAuth();
    expect(auth.ready).to.equal(true);
    const [cert] = parseCertificates(auth.certificatePem!);
    expect(cert!.subject).to.equal(`CN=${deviceId}`);
    expect(cert!.notAfter.getTime() - cert!.notBefore.getTime()).to.equal(DAY_MS);
    expect(cert!.extendedKeyUsages).to.deep.equal(['clientAuth']);
    expect(cert!.extension(EVIDENCE_EXTENSION_OID)?.critical).to.equal(false);
    expect(auth.expiresAt! - Date.now()).to.be.within(DAY_MS - 60_000, DAY_MS + 60_000);

    const chain = decodePkcs7Chain(await daa.client.tenantChainPkcs7(tenantId));
    const root = scratch.write('root.pem', chain[2]!.toPem());
    const untrusted = scratch.write('chain.pem', toCertificateBundlePem(chain.slice(0, 2)));
    const leaf = scratch.write('board.pem', auth.certificatePem!);
    const verified = openssl(['verify', '-purpose', 'sslclient', '-CAfile', root, '-untrusted', untrusted, leaf]);
    expect(verified.status, verified.stdout + verified.stderr).to.equal(0);
    const check = await daa.client.verifyPresentedChain({ chainPem: auth.certificatePem! + auth.chainPem!, expectedDeviceId: deviceId });
    expect(check).to.include({ valid: true, deviceId, tenant: tenantId });
  });

  it('is refused once the tenant marks the running OS untrusted, and attests again after an update to a trusted OS', async () => {
    const before = await attest();
    expect(before.verdict).to.equal('affirming');
    const running = before.measurements!;
    expect(running.map((m) => m.imageType), 'measured in boot order').to.deep.equal([...BOOT_ORDER]);
    await daa.client.setReferenceValues(tenantId, {
      components: componentsOf(running).components.map((c) => ({
        ...c,
        untrustedImageHashes: running.filter((m) => m.componentId === c.componentId).map((m) => m.sha256),
      })),
    });
    const refused = await attest();
    expect(refused.verdict).to.equal('refused');
    expect(new Set(refused.reasons!.map((r) => r.code))).to.deep.equal(new Set(['image-untrusted']));
    expect(refused.deviceAuth.ready).to.equal(false);
    expect((await deviceAuth()).ready, 'deviceAuthenticationIsReady is false').to.equal(false);

    const keys = await RigKeys.of(stateDir);
    const since = board.console.mark();
    await board.control.request('install', { images: b64(keys.osSet('22.12', 2)) });
    await board.console.expect('[OS] Azure Sphere OS 22.12', { timeoutMs: 10_000, since });
    await board.console.expect(/^\[DAA\] attestation ok/, { timeoutMs: 10_000, since });
    const auth = await deviceAuth();
    expect(auth.ready).to.equal(true);
    const audit = await daa.client.audit({ deviceId, limit: 1 });
    expect(audit[0]!.verdict).to.equal('affirming');
  });

  it('expires the certificate when the board clock passes 24 h, and attests again', async () => {
    const first = await deviceAuth();
    expect(first.ready).to.equal(true);
    const firstSerial = parseCertificates(first.certificatePem!)[0]!.serialNumber;
    const since = board.console.mark();
    await board.control.request('clock', { advanceMs: DAY_MS + 60_000 });
    await board.console.expect('[DAA] certificate expired', { timeoutMs: 10_000, since });
    await board.console.expect(/^\[DAA\] attestation ok/, { timeoutMs: 10_000, since });
    const renewed = await deviceAuth();
    expect(renewed.ready).to.equal(true);
    expect(parseCertificates(renewed.certificatePem!)[0]!.serialNumber).to.not.equal(firstSerial);
    const info = (await board.control.request('info', {})) as { boardTime: string };
    expect(renewed.expiresAt! - Date.parse(info.boardTime)).to.be.within(DAY_MS - 60_000, DAY_MS + 1000);
  });

  it('stays idle without a DAA URL: no certificate, and attest says why', async () => {
    await disconnect(board);
    await emulator.stop();
    emulator = await EmulatorProcess.start({ stateDir });
    board = await emulator.connect(0);
    await powerOnAndWaitForServices(board);
    const auth = await deviceAuth();
    expect(auth.ready).to.equal(false);
    const error = (await board.control.request('attest', {}).catch((e: unknown) => e)) as ControlError;
    expect(error.code).to.equal('daa-not-configured');
  });
});
