import { expect } from 'chai';
import express from 'express';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiTokenStore, ensureLocalAdminToken } from '../../src/daemon/api-token-store.js';
import { authorizeUpgrade, principalOf, requireRole, roleAtLeast, roleForMethod } from '../../src/daemon/auth.js';
import { HttpError, httpErrorHandler } from '../../src/daemon/http-errors.js';
import { InputError } from '../../src/util/failure.js';
import { rawRequest } from './helpers/http-request.js';
import { silentLogger } from './helpers/silent-logger.js';
import { TempDir } from './helpers/temp-dir.js';

describe('API tokens and roles', () => {
  let dir: TempDir;

  beforeEach(() => {
    dir = new TempDir();
  });

  afterEach(() => dir.remove());

  describe('ApiTokenStore', () => {
    it('keeps only salted hashes, in a 0600 file, and checks tokens after a reopen', () => {
      const path = dir.file('state/api-tokens.json');
      const store = ApiTokenStore.open(path);
      const { token, info } = store.create('nightly-ci', 'operator');
      expect(token).to.match(/^srt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      expect(info).to.include({ name: 'nightly-ci', role: 'operator' });
      const file = readFileSync(path, 'utf8');
      expect(file).to.not.contain(token.split('_')[2]);
      expect(statSync(path).mode & 0o777).to.equal(0o600);

      const reopened = ApiTokenStore.open(path);
      expect(reopened.verify(token)).to.deep.equal(info);
      expect(reopened.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).to.equal(null);
      expect(reopened.verify('srt_000000000000_' + 'A'.repeat(43))).to.equal(null);
      expect(reopened.verify('')).to.equal(null);
      expect(reopened.list()).to.deep.equal([info]);
      expect(reopened.revoke(info.id)).to.equal(true);
      expect(reopened.revoke(info.id)).to.equal(false);
      expect(ApiTokenStore.open(path).verify(token)).to.equal(null);
    });

    it('refuses a corrupt token file naming it, and bad roles', () => {
      const path = dir.file('api-tokens.json');
      writeFileSync(path, '{"format":"sphere-rig/api-tokens","version":1,"tokens":[{"id":"x"}]}');
      expect(() => ApiTokenStore.open(path)).to.throw(InputError, /api-tokens\.json/);
      writeFileSync(path, '{not json');
      expect(() => ApiTokenStore.open(path)).to.throw(InputError).with.property('code', 'token-file-unreadable');
      const store = ApiTokenStore.open(dir.file('other.json'));
      expect(() => store.create('x', 'root' as never)).to.throw(InputError).with.property('code', 'bad-role');
    });

    it('sets up a local admin token file once (0600) and gives the same token afterwards', () => {
      const store = ApiTokenStore.open(dir.file('api-tokens.json'));
      const tokenFile = dir.file('admin-token');
      const first = ensureLocalAdminToken(store, tokenFile);
      expect(first.created).to.equal(true);
      expect(statSync(tokenFile).mode & 0o777).to.equal(0o600);
      expect(readFileSync(tokenFile, 'utf8').trim()).to.equal(first.token);
      expect(store.verify(first.token)?.role).to.equal('admin');

      const again = ensureLocalAdminToken(ApiTokenStore.open(dir.file('api-tokens.json')), tokenFile);
      expect(again).to.deep.equal({ ...first, created: false });

      // The hashes were lost (state folder reset): a fresh token replaces the stale file.
      const fresh = ensureLocalAdminToken(ApiTokenStore.open(dir.file('new-tokens.json')), tokenFile);
      expect(fresh.created).to.equal(true);
      expect(fresh.token).to.not.equal(first.token);
    });
  });

  describe('roles', () => {
    it('orders viewer < operator < admin and gives reads to viewers, everything else to operators', () => {
      expect(roleAtLeast('admin', 'operator')).to.equal(true);
      expect(roleAtLeast('operator', 'operator')).to.equal(true);
      expect(roleAtLeast('viewer', 'operator')).to.equal(false);
      expect(['GET', 'head', 'OPTIONS'].map(roleForMethod)).to.deep.equal(['viewer', 'viewer', 'viewer']);
      expect(['POST', 'PUT', 'PATCH', 'DELETE'].map(roleForMethod)).to.deep.equal(['operator', 'operator', 'operator', 'operator']);
    });
  });

  describe('middleware', () => {
    let server: Server;
    let port: number;
    let tokens: Record<'viewer' | 'operator' | 'admin', string>;

    beforeEach(async () => {
      const store = ApiTokenStore.open(dir.file('api-tokens.json'));
      tokens = {
        viewer: store.create('dashboard', 'viewer').token,
        operator: store.create('ci', 'operator').token,
        admin: store.create('lab-admin', 'admin').token,
      };
      const app = express();
      const api = express.Router();
      api.use(requireRole(store, (req) => roleForMethod(req.method)));
      api.get('/runs', (_req, res) => void res.json({ runs: [], by: principalOf(res)?.name }));
      api.post('/runs', (_req, res) => void res.status(201).json({ by: principalOf(res) }));
      api.post('/tokens', requireRole(store, 'admin'), (_req, res) => void res.status(201).json({ ok: true }));
      app.use('/api/v1', api);
      app.use(httpErrorHandler({ logger: silentLogger }));
      server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      port = (server.address() as AddressInfo).port;
    });

    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    const call = (method: string, path: string, token?: string) => rawRequest(port, { method, path, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

    it('answers 401 in JSON without a token or with a bad one', async () => {
      const none = await call('GET', '/api/v1/runs');
      expect(none.status).to.equal(401);
      expect(none.headers['www-authenticate']).to.match(/^Bearer/);
      expect(none.json).to.deep.equal({ error: { code: 'unauthenticated', message: 'an API token is required (Authorization: Bearer <token>)' } });
      const bad = await call('GET', '/api/v1/runs', 'srt_bad');
      expect(bad.status).to.equal(401);
      expect((bad.json as { error: { code: string } }).error.code).to.equal('invalid-token');
      expect((await rawRequest(port, { path: '/api/v1/runs', headers: { authorization: `Basic ${tokens.admin}` } })).status).to.equal(401);
    });

    it('answers 403 to a viewer on a mutating route and lets operators and admins through', async () => {
      expect((await call('GET', '/api/v1/runs', tokens.viewer)).json).to.deep.equal({ runs: [], by: 'dashboard' });
      const forbidden = await call('POST', '/api/v1/runs', tokens.viewer);
      expect(forbidden.status).to.equal(403);
      expect(forbidden.json).to.deep.include({ error: { code: 'forbidden', message: 'this needs the operator role; the token "dashboard" has viewer', details: { required: 'operator', role: 'viewer' } } });
      const byOperator = await call('POST', '/api/v1/runs', tokens.operator);
      expect(byOperator.status).to.equal(201);
      expect((byOperator.json as { by: { role: string } }).by.role).to.equal('operator');
      expect((await call('POST', '/api/v1/runs', tokens.admin)).status).to.equal(201);
    });

    it('keeps token management to admins', async () => {
      expect((await call('POST', '/api/v1/tokens', tokens.operator)).status).to.equal(403);
      expect((await call('POST', '/api/v1/tokens', tokens.admin)).status).to.equal(201);
    });
  });

  describe('WebSocket upgrade check', () => {
    const upgrade = (url: string, headers: Record<string, string> = {}): IncomingMessage => ({ url, headers }) as unknown as IncomingMessage;

    it('takes the token from the Authorization header or the token query parameter', () => {
      const store = ApiTokenStore.open(dir.file('api-tokens.json'));
      const { token } = store.create('browser', 'viewer');
      expect(authorizeUpgrade(store, upgrade('/api/v1/stream', { authorization: `Bearer ${token}` })).name).to.equal('browser');
      expect(authorizeUpgrade(store, upgrade(`/api/v1/stream?subscribe=*&token=${encodeURIComponent(token)}`)).role).to.equal('viewer');
      const status = (fn: () => unknown): number => {
        try {
          fn();
        } catch (error) {
          expect(error).to.be.instanceOf(HttpError);
          return (error as HttpError).status;
        }
        return 200;
      };
      expect(status(() => authorizeUpgrade(store, upgrade('/api/v1/stream')))).to.equal(401);
      expect(status(() => authorizeUpgrade(store, upgrade('/api/v1/stream?token=')))).to.equal(401);
      expect(status(() => authorizeUpgrade(store, upgrade('/api/v1/stream?token=abc')))).to.equal(401);
      expect(status(() => authorizeUpgrade(store, upgrade(`/api/v1/stream?token=${token}`), 'operator'))).to.equal(403);
    });
  });
});
