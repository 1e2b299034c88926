import { expect } from 'chai';
import { parseCertificate } from '../../src/pki/certificate.js';
import { decodePkcs7Chain } from '../../src/pki/pkcs7-chain.js';
import { RevocationList } from '../../src/pki/revocation-list.js';
import { DaaClient } from '../../src/daa/daa-client.js';
import type { DaaError } from '../../src/daa/daa-error.js';
import { startDaaServer } from '../../src/daa/daa-server.js';
import type { AffirmingResult } from '../../src/daa/protocol.js';
import { openssl, ScratchDir } from '../pki/openssl.js';
import { DaaFixture } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';
import { stateSnapshot } from './helpers/state-snapshot.js';

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

  it('answers each bad input with its own status and code, changes nothing, and keeps serving', async () => {
    const send = async (method: string, path: string, body?: string, contentType = 'application/json') => {
      const authorization = { authorization: `Bearer ${daa.adminToken}` };
      const response = await fetch(`${daa.server.url}${path}`, { method, headers: body === undefined ? authorization : { ...authorization, 'content-type': contentType }, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      return { status: response.status, text, json: JSON.parse(text) as { error?: { code: string; message: string } } & Record<string, unknown> };
    };
    const tenant = await daa.client.createTenant({ name: 'inputs' });
    const owned = new SimulatedDevice();
    await daa.tenantFor(owned, 'inputs-owner');
    const notAPoint = 'ab'.repeat(64);
    const noThumbprint = '0'.repeat(40);
    const before = stateSnapshot(daa.dir);
    const tenantsBefore = await daa.client.listTenants();

    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['POST', '/tenants', '{"name": 7}', 400, 'body-invalid'],
      ['POST', '/tenants', '{"name": "x", "extra": true}', 400, 'body-invalid'],
      ['POST', '/tenants', 'not json', 400, 'body-malformed'],
      ['POST', '/tenants', '[]', 400, 'body-invalid'],
      ['POST', '/tenants', 'null', 400, 'body-invalid'],
      ['POST', '/tenants', `{"name": "${'n'.repeat(2 * 1024 * 1024)}"}`, 413, 'body-too-large'],
      ['POST', '/tenants', '{"name": "bad/name"}', 400, 'tenant-name-invalid'],
      ['POST', '/tenants', '{"name": "x", "id": "../../x"}', 400, 'tenant-id-invalid'],
      ['POST', '/tenants', '{"name": "inputs"}', 409, 'tenant-exists'],
      ['POST', '/tenants', `{"name": "x", "id": "${tenant.id.toUpperCase()}"}`, 409, 'tenant-exists'],
      ['GET', '/tenants?x=1', undefined, 400, 'query-invalid'],
      ['GET', '/tenants/nope', undefined, 404, 'tenant-not-found'],
      ['GET', '/tenants/%E0%A4%A', undefined, 400, 'bad-request'],
      ['POST', '/tenants/nope/devices', '{"deviceId": "12"}', 400, 'body-invalid'],
      ['POST', `/tenants/${tenant.id}/devices`, '{"deviceId": "12"}', 400, 'body-invalid'],
      ['POST', `/tenants/${tenant.id}/devices`, `{"deviceId": "${notAPoint}"}`, 400, 'device-id-invalid'],
      ['POST', `/tenants/${tenant.id}/devices`, `{"deviceId": "${owned.deviceId}"}`, 409, 'device-claimed-elsewhere'],
      ['PUT', `/tenants/${tenant.id}/policy`, '{"developmentMode": "maybe"}', 400, 'body-invalid'],
      ['PUT', '/tenants/nope/reference-values', '{"components": "all"}', 404, 'tenant-not-found'],
      ['PUT', `/tenants/${tenant.id}/reference-values`, '{"components": "all"}', 400, 'reference-values-invalid'],
      ['GET', '/tenants/nope/ca?thumbprint=zz', undefined, 400, 'query-invalid'],
      ['GET', `/tenants/${tenant.id}/ca?thumbprint=${noThumbprint}`, undefined, 404, 'authority-not-found'],
      ['PUT', '/tenants/nope/ca/xyz', '{"status": "Active"}', 400, 'thumbprint-invalid'],
      ['PUT', `/tenants/${tenant.id}/ca/${noThumbprint}`, '{"status": "Revoked"}', 404, 'authority-not-found'],
      ['POST', `/tenants/${tenant.id}/ca/rotate`, '{"activate": "yes"}', 400, 'body-invalid'],
      ['GET', '/devices/abc', undefined, 400, 'device-id-invalid'],
      ['POST', `/devices/${notAPoint}/revoke`, '{}', 400, 'device-id-invalid'],
      ['POST', `/devices/${new SimulatedDevice().deviceId}/revoke`, '{"reason": "x"}', 404, 'device-not-found'],
      ['POST', '/sessions', '{"deviceId": 5}', 400, 'body-invalid'],
      ['POST', '/sessions', `{"deviceId": "${notAPoint}"}`, 400, 'device-id-invalid'],
      ['POST', '/verify', '{"chainPem": "x", "at": "yesterday"}', 400, 'body-invalid'],
      ['POST', '/verify', '{"chainPem": "x", "at": "2024-13-45T99:99Z"}', 400, 'body-invalid'],
      ['GET', '/audit?limit=-1', undefined, 400, 'query-invalid'],
      ['GET', '/audit?__proto__=x', undefined, 400, 'query-invalid'],
      ['GET', '/no/such/endpoint', undefined, 404, 'not-found'],
      ['DELETE', `/tenants/${tenant.id}`, undefined, 404, 'not-found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await send(method, path, body);
      expect({ status: answer.status, code: answer.json.error?.code }, `${method} ${path.slice(0, 60)} ${body?.slice(0, 60) ?? ''} -> ${answer.text.slice(0, 200)}`).to.deep.equal({ status, code });
    }
    // A chain that is not one is the relying party's answer, not an error: not valid, and why.
    const garbage = await send('POST', '/verify', '{"chainPem": "garbage"}');
    expect(garbage.status).to.equal(200);
    expect(garbage.json).to.deep.include({ valid: false, deviceId: null });
    expect((garbage.json.problems as Array<{ code: string }>).map((p) => p.code)).to.deep.equal(['chain-unreadable']);

    expect(stateSnapshot(daa.dir), 'no tenant, CA, device or certificate changed').to.deep.equal(before);
    expect(await daa.client.listTenants()).to.deep.equal(tenantsBefore);
    const refused = await send('PUT', `/tenants/${tenant.id}/reference-values`, JSON.stringify({ components: [{ componentId: 'x', trustedImageHashes: ['00'] }] }));
    expect(refused.status).to.equal(400);
    expect(refused.json.error!.message).to.include('components[0].componentId').and.include('components[0].trustedImageHashes[0]');
    expect((await send('GET', `/tenants/${tenant.id}/reference-values`)).json.error?.code).to.equal('reference-values-not-set');

    // The service still does its work: a new tenant's device attests.
    const device = new SimulatedDevice();
    const fresh = await daa.tenantFor(device, 'after-inputs');
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    const result = await daa.client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, fresh.id)));
    expect(result.verdict).to.equal('affirming');
  });

  it('listens on a bracketed [::1] too, and refuses a host that is not loopback or a port out of range, naming the address', async () => {
    const v6 = await startDaaServer({ service: daa.service, host: '[::1]', tokenDir: daa.dir });
    try {
      expect(v6.url).to.match(/^http:\/\/\[::1\]:\d+$/);
      expect(await new DaaClient(v6.url).rootPem()).to.contain('BEGIN CERTIFICATE');
    } finally {
      await v6.close();
    }
    const refusal = (options: { host?: string; port?: number }) =>
      startDaaServer({ service: daa.service, ...options }).then(
        () => expect.fail(`listened on ${JSON.stringify(options)}`),
        (error: DaaError) => ({ code: error.code, status: error.status, message: error.message }),
      );
    expect(await refusal({ host: '0.0.0.0' })).to.deep.include({ code: 'non-loopback-address', status: 400 });
    expect(await refusal({ port: 70000 })).to.deep.equal({
      code: 'listen-invalid',
      status: 400,
      message: 'the DAA service listen address: port 70000 is not in 0..65535 (0: any free port)',
    });
  });
});
