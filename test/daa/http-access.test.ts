import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaaClient } from '../../src/daa/daa-client.js';
import { startDaaServer } from '../../src/daa/daa-server.js';
import { DaaService } from '../../src/daa/daa-service.js';
import type { AffirmingResult } from '../../src/daa/protocol.js';
import { ApiTokenStore } from '../../src/daemon/api-token-store.js';
import { DaaFixture, referenceFor } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';
import { stateSnapshot } from './helpers/state-snapshot.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  code: string | undefined;
  message: string | undefined;
}

async function request(url: string, method: string, options: { token?: string; body?: string | Uint8Array<ArrayBuffer>; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.contentType) headers['content-type'] = options.contentType;
  // A Uint8Array body goes without a Content-Type unless one is given (a string would be sent as text/plain).
  const body = typeof options.body === 'string' ? new TextEncoder().encode(options.body) : options.body;
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  return { status: response.status, headers: response.headers, text, code: error?.code, message: error?.message };
}

describe('local DAA service over HTTP: tokens, media types and what an unauthenticated caller learns', function () {
  this.timeout(60_000);

  describe('served alone (sphere-rig daa serve), with the tokens of its state folder', () => {
    let daa: DaaFixture;
    let viewer: string;

    before(async () => {
      daa = await DaaFixture.start();
      // A token added to the file by another holder: the server reads the file when it starts.
      viewer = ApiTokenStore.open(join(daa.dir, 'api-tokens.json')).create('ci', 'viewer').token;
      const again = await daa.restartServer();
      expect(again.adminToken).to.deep.include({ token: daa.adminToken, created: false });
    });
    after(() => daa.stop());

    it('keeps api-tokens.json and admin.token in the state folder, readable by the owner only', () => {
      for (const file of ['api-tokens.json', 'admin.token']) expect(statSync(join(daa.dir, file)).mode & 0o777, file).to.equal(0o600);
      expect(readFileSync(join(daa.dir, 'admin.token'), 'utf8').trim()).to.equal(daa.adminToken);
    });

    it('refuses management without a valid token (401), with a viewer token to change (403), and serves it with the admin token', async () => {
      const url = daa.server.url;
      const missing = await request(`${url}/tenants`, 'GET');
      expect([missing.status, missing.code]).to.deep.equal([401, 'unauthenticated']);
      expect(missing.headers.get('www-authenticate')).to.match(/^Bearer/);
      expect((await request(`${url}/tenants`, 'POST', { body: '{"name":"x"}', contentType: 'application/json' })).status).to.equal(401);
      expect((await request(`${url}/audit`, 'GET', { token: 'srt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).code).to.equal('invalid-token');
      expect((await request(`${url}/devices/${'a'.repeat(128)}/revoke`, 'POST', { body: '{}', contentType: 'application/json' })).status).to.equal(401);

      expect((await request(`${url}/tenants`, 'GET', { token: viewer })).status).to.equal(200);
      const viewerWrites = await request(`${url}/tenants`, 'POST', { token: viewer, body: '{"name":"x"}', contentType: 'application/json' });
      expect([viewerWrites.status, viewerWrites.code]).to.deep.equal([403, 'forbidden']);

      const tenant = await daa.client.createTenant({ name: 'managed' });
      expect((await daa.client.listTenants()).map((t) => t.name)).to.include('managed');
      expect(await new DaaClient(url, { token: viewer }).tenant(tenant.id)).to.deep.include({ name: 'managed' });
    });

    it('lets a device attest, and a relying party download the CAs and check a chain, without any token', async () => {
      const device = new SimulatedDevice();
      const tenant = await daa.tenantFor(device, 'devices');
      const anonymous = new DaaClient(daa.server.url);
      const session = await anonymous.createSession({ deviceId: device.deviceId });
      const result = (await anonymous.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, tenant.id)))) as AffirmingResult;
      expect(result.verdict).to.equal('affirming');
      expect(await anonymous.rootPem()).to.contain('BEGIN CERTIFICATE');
      // By the tenant's id, as the CA's subject and the session name it.
      expect(session.tenant).to.equal(tenant.id);
      expect(await anonymous.tenantCaPem(tenant.id)).to.contain('BEGIN CERTIFICATE');
      expect(await anonymous.tenantChainPkcs7(tenant.id)).to.contain('BEGIN PKCS7');
      expect(await anonymous.tenantCrlPem(tenant.id)).to.contain('BEGIN X509 CRL');
      expect(await anonymous.verifyPresentedChain({ chainPem: result.certificatePem + result.chainPem, expectedDeviceId: device.deviceId })).to.deep.include({ valid: true, tenant: tenant.id });
    });

    it('answers an anonymous CA, chain or CRL download for a real tenant name exactly as for a made-up one', async () => {
      const url = daa.server.url;
      const tenant = await daa.client.createTenant({ name: 'probed' });
      const shown = (answer: Answer) => [answer.status, answer.text, answer.headers.get('content-type'), answer.headers.get('content-length')];
      for (const download of ['ca', 'ca/chain', 'ca/crl']) {
        const real = await request(`${url}/tenants/probed/${download}`, 'GET');
        expect([real.status, real.code], download).to.deep.equal([404, 'not-found']);
        const misses = [
          await request(`${url}/tenants/made-up/${download}`, 'GET'),
          await request(`${url}/tenants/${randomUUID()}/${download}`, 'GET'),
          await request(`${url}/tenants/${tenant.id}/${download}?thumbprint=${'0'.repeat(40)}`, 'GET'),
          // A token that is not valid counts as none.
          await request(`${url}/tenants/probed/${download}`, 'GET', { token: 'srt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }),
        ];
        for (const miss of misses) expect(shown(miss), download).to.deep.equal(shown(real));
        // The tenant's id serves it; with a viewer token its name does too.
        expect((await request(`${url}/tenants/${tenant.id}/${download}`, 'GET')).status, download).to.equal(200);
        expect((await request(`${url}/tenants/${tenant.id.toUpperCase()}/${download}`, 'GET')).status, download).to.equal(200);
        expect((await request(`${url}/tenants/probed/${download}`, 'GET', { token: viewer })).status, download).to.equal(200);
        expect((await request(`${url}/tenants/made-up/${download}`, 'GET', { token: viewer })).code, download).to.equal('tenant-not-found');
      }
    });

    it("keeps a tenant's CA list for viewers: without a token, a known and an unknown tenant answer alike", async () => {
      await daa.client.createTenant({ name: 'listed' });
      const known = await request(`${daa.server.url}/tenants/listed/ca/list`, 'GET');
      const unknown = await request(`${daa.server.url}/tenants/no-such-tenant/ca/list`, 'GET');
      expect([known.status, known.code]).to.deep.equal([401, 'unauthenticated']);
      expect([unknown.status, unknown.text, unknown.headers.get('www-authenticate')]).to.deep.equal([known.status, known.text, known.headers.get('www-authenticate')]);
      expect((await request(`${daa.server.url}/tenants/listed/ca/list`, 'GET', { token: viewer })).status).to.equal(200);
      expect((await request(`${daa.server.url}/tenants/no-such-tenant/ca/list`, 'GET', { token: viewer })).code).to.equal('tenant-not-found');
    });
  });

  it('refuses every management request when started with no tokens, and still serves devices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-notokens-'));
    const service = await DaaService.open({ stateDir: dir });
    const server = await startDaaServer({ service });
    try {
      expect(server.adminToken).to.equal(null);
      expect((await request(`${server.url}/tenants`, 'GET')).status).to.equal(401);
      const anyToken = await request(`${server.url}/tenants`, 'GET', { token: 'srt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect([anyToken.status, anyToken.code]).to.deep.equal([401, 'invalid-token']);
      expect((await new DaaClient(server.url).createSession()).nonce).to.be.a('string');
    } finally {
      await server.close();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('media types', () => {
    let daa: DaaFixture;

    before(async () => (daa = await DaaFixture.start()));
    after(() => daa.stop());

    it('takes JSON bodies only as application/json in UTF-8: 415 for another type, none, or another charset, naming it', async () => {
      const url = daa.server.url;
      const token = daa.adminToken;
      const tenant = await daa.client.createTenant({ name: 'media' });
      const before = stateSnapshot(daa.dir);
      const cases: Array<[string, string, string | undefined, string | Uint8Array<ArrayBuffer>, number, string, string]> = [
        ['POST', '/tenants', undefined, '{"name":"untyped"}', 415, 'unsupported-media-type', 'no Content-Type'],
        ['POST', '/tenants', 'text/plain', '{"name":"text"}', 415, 'unsupported-media-type', '"text/plain"'],
        ['POST', '/tenants', 'application/x-www-form-urlencoded', 'name=form', 415, 'unsupported-media-type', 'application/x-www-form-urlencoded'],
        ['POST', '/tenants', 'application/jsonp', '{"name":"jsonp"}', 415, 'unsupported-media-type', 'application/jsonp'],
        ['POST', '/tenants', 'application/json; charset=latin1', '{"name":"latin"}', 415, 'unsupported-charset', '"latin1"'],
        ['POST', '/tenants', 'application/json; charset="utf-16"', '{"name":"wide"}', 415, 'unsupported-charset', '"utf-16"'],
        ['POST', '/tenants', 'application/json', new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 400, 'body-malformed', 'not valid UTF-8'],
        ['PUT', `/tenants/${tenant.id}/reference-values`, 'text/yaml', 'components: []', 415, 'unsupported-media-type', 'text/yaml'],
        ['PUT', `/tenants/${tenant.id}/policy`, undefined, '{"developmentMode":"forbid"}', 415, 'unsupported-media-type', 'no Content-Type'],
        ['POST', '/verify', undefined, '{"chainPem":"x"}', 415, 'unsupported-media-type', 'no Content-Type'],
        ['POST', '/sessions', 'text/plain', '{}', 415, 'unsupported-media-type', 'text/plain'],
      ];
      for (const [method, path, contentType, body, status, code, named] of cases) {
        const answer = await request(`${url}${path}`, method, { token, body, ...(contentType ? { contentType } : {}) });
        const what = `${method} ${path} as ${contentType ?? 'nothing'} -> ${answer.text.slice(0, 200)}`;
        expect({ status: answer.status, code: answer.code }, what).to.deep.equal({ status, code });
        expect(answer.message, what).to.include(named);
      }
      expect(stateSnapshot(daa.dir), 'nothing refused changed anything').to.deep.equal(before);

      for (const [name, contentType] of [['plain', 'application/json'], ['utf8', 'application/json; charset=utf-8'], ['quoted', 'Application/JSON;charset="UTF-8"']] as const) {
        const created = await request(`${url}/tenants`, 'POST', { token, body: JSON.stringify({ name }), contentType });
        expect(created.status, `${contentType}: ${created.text}`).to.equal(201);
      }
      // No body at all has nothing to type: a session asked for with a bare POST.
      const bare = await request(`${url}/sessions`, 'POST');
      expect(bare.status, bare.text).to.equal(201);
    });

    it('refuses evidence that is not JSON with 415 before the session is used: the session still takes the evidence', async () => {
      const device = new SimulatedDevice();
      const tenant = await daa.client.createTenant({ name: 'media-evidence' });
      await daa.client.setReferenceValues(tenant.id, referenceFor(device));
      await daa.client.claimDevice(tenant.id, device.deviceId);
      const session = await daa.client.createSession({ deviceId: device.deviceId });
      const evidence = JSON.stringify({ evidence: device.sign(device.claims(session.nonce, tenant.id)) });
      const path = `${daa.server.url}/sessions/${session.sessionId}/evidence`;
      const untyped = await request(path, 'POST', { body: evidence });
      expect([untyped.status, untyped.code]).to.deep.equal([415, 'unsupported-media-type']);
      const latin = await request(path, 'POST', { body: evidence, contentType: 'application/json; charset=iso-8859-1' });
      expect([latin.status, latin.code]).to.deep.equal([415, 'unsupported-charset']);
      expect(latin.message).to.include('iso-8859-1');
      const accepted = await request(path, 'POST', { body: evidence, contentType: 'application/json' });
      expect(accepted.status, accepted.text).to.equal(200);
      expect(JSON.parse(accepted.text)).to.include({ verdict: 'affirming' });
    });
  });
});
