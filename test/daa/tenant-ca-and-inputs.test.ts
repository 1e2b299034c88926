import { expect } from 'chai';
import { parseCertificate } from '../../src/pki/certificate.js';
import { decodePkcs7Chain } from '../../src/pki/pkcs7-chain.js';
import { RevocationList } from '../../src/pki/revocation-list.js';
import type { AffirmingResult } from '../../src/daa/protocol.js';
import { openssl, ScratchDir } from '../pki/openssl.js';
import { DaaFixture } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';

const DAY_MS = 24 * 3600 * 1000;

describe('local DAA service: tenant CA rotation, downloads, CRL, relying party and bad input', function () {
  this.timeout(60_000);
  let daa: DaaFixture;
  let offset = 0;
  let scratch: ScratchDir;

  before(async () => {
    daa = await DaaFixture.start({ now: () => Date.now() + offset, tenantCaLifetimeDays: 100, tenantCaOverlapDays: 10 });
    scratch = new ScratchDir();
  });
  after(async () => {
    await daa.stop();
    scratch.remove();
  });

  it('issues a successor CA before expiry, switches to it at expiry, and keeps both listed', async () => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    expect(await daa.client.tenantCaList(tenant.id)).to.have.length(1);
    offset = 91 * DAY_MS;
    await daa.service.maintainTenantCas();
    const overlap = await daa.client.tenantCaList(tenant.id);
    expect(overlap.map((c) => c.status)).to.deep.equal(['Inactive', 'Active']);
    offset = 101 * DAY_MS;
    await daa.service.maintainTenantCas();
    const rotated = await daa.client.tenantCaList(tenant.id);
    expect(rotated.map((c) => [c.generation, c.status])).to.deep.equal([[2, 'Active'], [1, 'Inactive']]);
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    device.bootCount += 1;
    const result = (await daa.client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, tenant.id)))) as AffirmingResult;
    expect(result.verdict).to.equal('affirming');
    expect(parseCertificate(await daa.client.tenantCaPem(tenant.id)).thumbprintHex).to.equal(rotated[0]!.thumbprint);
    expect(decodePkcs7Chain(await daa.client.tenantChainPkcs7(tenant.id, rotated[1]!.thumbprint))[0]!.thumbprintHex).to.equal(rotated[1]!.thumbprint);
    offset = 0;
  });

  it('publishes a CRL, signed by the tenant CA, listing the certificates of a revoked device; the relying party says why', async () => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    const result = (await daa.client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, tenant.id)))) as AffirmingResult;
    const chainPem = result.certificatePem + result.chainPem;
    expect((await daa.client.verifyPresentedChain({ chainPem })).valid).to.equal(true);
    const later = await daa.client.verifyPresentedChain({ chainPem, at: new Date(Date.now() + 2 * DAY_MS) });
    expect(later.problems.map((p) => p.code)).to.include('expired');
    await daa.client.revokeDevice(device.deviceId, 'lost');
    const crl = RevocationList.parse(await daa.client.tenantCrlPem(tenant.id));
    expect(crl.isRevoked(result.serialNumber)).to.equal(true);
    expect(await crl.isSignedBy(parseCertificate(await daa.client.tenantCaPem(tenant.id)))).to.equal(true);
    const crlFile = scratch.write('tenant.crl', crl.toPem());
    const caFile = scratch.write('tenant-ca.pem', await daa.client.tenantCaPem(tenant.id));
    expect(openssl(['crl', '-in', crlFile, '-CAfile', caFile, '-noout']).stderr).to.match(/verify OK/);
    const revoked = await daa.client.verifyPresentedChain({ chainPem });
    expect(revoked.valid).to.equal(false);
    expect(revoked.problems.map((p) => p.code)).to.include.members(['certificate-revoked', 'device-revoked']);
    const foreign = await daa.client.verifyPresentedChain({ chainPem: await daa.client.rootPem() });
    expect(foreign.problems.map((p) => p.code)).to.include('not-a-device-certificate');
  });

  it('answers bad input with 4xx and a code, never 500', async () => {
    const send = async (method: string, path: string, body?: string, contentType = 'application/json') => {
      const response = await fetch(`${daa.server.url}${path}`, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': contentType } }) });
      return { status: response.status, body: await response.text() };
    };
    const cases: Array<[string, string, string | undefined]> = [
      ['POST', '/tenants', '{"name": 7}'],
      ['POST', '/tenants', '{"name": "x", "extra": true}'],
      ['POST', '/tenants', 'not json'],
      ['POST', '/tenants', '[]'],
      ['POST', '/tenants', `{"name": "${'n'.repeat(2 * 1024 * 1024)}"}`],
      ['POST', '/tenants', '{"name": "bad/name"}'],
      ['GET', '/tenants/nope', undefined],
      ['GET', '/tenants/%E0%A4%A', undefined],
      ['POST', '/tenants/nope/devices', '{"deviceId": "12"}'],
      ['PUT', '/tenants/nope/reference-values', '{"components": "all"}'],
      ['GET', '/tenants/nope/ca?thumbprint=zz', undefined],
      ['PUT', '/tenants/nope/ca/xyz', '{"status": "Active"}'],
      ['GET', '/devices/abc', undefined],
      ['POST', '/sessions', '{"deviceId": 5}'],
      ['POST', '/verify', '{"chainPem": "garbage"}'],
      ['POST', '/verify', '{"chainPem": "x", "at": "yesterday"}'],
      ['GET', '/audit?limit=-1', undefined],
      ['GET', '/no/such/endpoint', undefined],
    ];
    for (const [method, path, body] of cases) {
      const answer = await send(method, path, body);
      expect(answer.status, `${method} ${path.slice(0, 60)} -> ${answer.body.slice(0, 200)}`).to.be.within(200, 499);
      if (answer.status >= 400) expect(JSON.parse(answer.body).error.code, path).to.be.a('string');
    }
    const tenant = await daa.client.createTenant({ name: 'inputs' });
    const refused = await send('PUT', `/tenants/${tenant.id}/reference-values`, JSON.stringify({ components: [{ componentId: 'x', trustedImageHashes: ['00'] }] }));
    expect(refused.status).to.equal(400);
    expect(JSON.parse(refused.body).error.message).to.include('components[0].componentId').and.include('components[0].trustedImageHashes[0]');
  });
});
