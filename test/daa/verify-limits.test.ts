import { expect } from 'chai';
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaaError } from '../../src/daa/daa-error.js';
import { DaaService } from '../../src/daa/daa-service.js';
import { createDaaRouter, type DaaRouter } from '../../src/daa/http/daa-router.js';
import { RelyingPartyThread } from '../../src/daa/relying-party-thread.js';
import { ApiTokenStore } from '../../src/daemon/api-token-store.js';
import { daaRouteAccess } from '../../src/daemon/daa-route-access.js';
import { createSelfSigned } from '../../src/pki/certificate-authority.js';
import { generateSigningKeyPair } from '../../src/pki/signing-key.js';

/**
 * POST /verify is open to anyone, so what one request may cost is bounded: a
 * 64 KiB body, 10 certificates, and the check off the event loop. The costliest
 * request within those bounds (certificates of many small extensions, which the
 * x509 parser reads slowly: about half a second of CPU each) must not hold up
 * the rest of the server: a daemon-style health endpoint on the same server
 * keeps answering within 100 ms while several of them run.
 */
interface Answer {
  status: number;
  retryAfter: string | null;
  body: { valid?: boolean; problems?: Array<{ code: string }>; error?: { code: string; message: string; details?: Record<string, unknown> } };
}

describe('local DAA service: the cost of POST /verify is bounded and kept off the event loop', function () {
  this.timeout(120_000);
  let dir: string;
  let service: DaaService;
  let router: DaaRouter;
  let server: Server;
  let url: string;
  /** The costliest body within the limits: two certificates of 1500 extensions, about 51 KB. */
  let costly: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-verify-'));
    service = await DaaService.open({ stateDir: dir });
    await service.createTenant({ name: 'verify-load' });
    // Wired as the daemon wires it: the API next to the DAA service, one server, one event loop.
    router = createDaaRouter(service);
    const app = express();
    app.get('/api/v1/health', (_req, res) => void res.json({ ok: true }));
    app.use('/daa', daaRouteAccess(ApiTokenStore.open(join(dir, 'api-tokens.json'))), router);
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const keyPair = generateSigningKeyPair();
    const many = async () =>
      (
        await createSelfSigned({
          subject: `CN=${'a'.repeat(128)}`,
          keyPair,
          extensions: Array.from({ length: 1500 }, (_, i) => ({ oid: `1.2.3.${i}`, value: Buffer.from([4, 0]) })),
        })
      ).toPem();
    costly = JSON.stringify({ chainPem: (await many()) + (await many()) });
    expect(costly.length).to.be.within(40 * 1024, 64 * 1024);
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await router?.close();
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = async (body: string, base = `${url}/daa`): Promise<Answer> => {
    const response = await fetch(`${base}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Answer['body'] };
  };

  it('keeps the health endpoint answering within 100 ms (p99) while several of the costliest checks run', async () => {
    const CLIENTS = 4;
    const ROUNDS = 2;
    const answers: Answer[] = [];
    let done = false;
    const checks = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let round = 0; round < ROUNDS; round++) answers.push(await verify(costly));
      }),
    ).finally(() => (done = true));
    const latencies: number[] = [];
    while (!done) {
      const started = performance.now();
      const health = await fetch(`${url}/api/v1/health`);
      await health.arrayBuffer();
      latencies.push(performance.now() - started);
      expect(health.status).to.equal(200);
    }
    await checks;

    // Every check ran to its verdict: the certificates are no device's, and are not trusted.
    expect(answers.map((a) => a.status)).to.deep.equal(Array(CLIENTS * ROUNDS).fill(200));
    for (const answer of answers) expect(answer.body.valid).to.equal(false);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
    expect(latencies.length, 'health samples taken while the checks ran').to.be.at.least(20);
    expect(p99, `health p99 over ${latencies.length} requests (max ${latencies.at(-1)!.toFixed(0)} ms)`).to.be.below(100);
  });

  it('refuses a body over 64 KiB with 413 and more than 10 certificates with 400, naming the limit, before parsing any', async () => {
    const root = service.rootPem();
    const tooLarge = await verify(JSON.stringify({ chainPem: 'x'.repeat(64 * 1024) }));
    expect([tooLarge.status, tooLarge.body.error?.code]).to.deep.equal([413, 'body-too-large']);
    expect(tooLarge.body.error?.message).to.include('65536 bytes');

    const eleven = await verify(JSON.stringify({ chainPem: root.repeat(6), trustAnchorsPem: root.repeat(5) }));
    expect([eleven.status, eleven.body.error?.code]).to.deep.equal([400, 'too-many-certificates']);
    expect(eleven.body.error?.message).to.include('trustAnchorsPem').and.include('11 certificates').and.include('at most 10');
    const chainAlone = await verify(JSON.stringify({ chainPem: root.repeat(11) }));
    expect(chainAlone.body.error?.details).to.deep.include({ field: 'chainPem', limit: 10, chainPem: 11 });

    // Ten is allowed: an answer, not an error.
    const ten = await verify(JSON.stringify({ chainPem: root.repeat(5), trustAnchorsPem: root.repeat(5) }));
    expect(ten.status).to.equal(200);
    expect(ten.body.problems?.map((p) => p.code)).to.include('not-a-device-certificate');
  });

  it('refuses checks beyond those allowed to wait with 503 and Retry-After, and serves again afterwards', async () => {
    const strict = createDaaRouter(service, { verifyMaxWaiting: 0 });
    const app = express().use(strict);
    const alone = createServer(app);
    await new Promise<void>((resolve) => alone.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(alone.address() as AddressInfo).port}`;
    try {
      // One check at a time and none waiting: of requests sent together, those arriving while one runs are refused.
      let refused: Answer | undefined;
      for (let round = 0; round < 20 && !refused; round++) {
        const answers = await Promise.all(Array.from({ length: 4 }, () => verify(costly, base)));
        for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).to.be.oneOf([200, 503]);
        refused = answers.find((a) => a.status === 503);
      }
      expect(refused?.body.error?.code).to.equal('verify-busy');
      expect(refused?.retryAfter).to.equal('1');
      expect((await verify(JSON.stringify({ chainPem: service.rootPem() }), base)).status).to.equal(200);
    } finally {
      alone.closeAllConnections();
      await new Promise((resolve) => alone.close(resolve));
      await strict.close();
    }
  });

  it('runs one check at a time with the number allowed to wait, refusing the next at once', async () => {
    const thread = new RelyingPartyThread(service, { maxWaiting: 1 });
    try {
      const chainPem = service.rootPem();
      const running = thread.check({ chainPem });
      const waiting = thread.check({ chainPem });
      const refused = await thread.check({ chainPem }).then(
        () => expect.fail('a third check was accepted'),
        (error: DaaError) => error,
      );
      expect(refused).to.be.instanceOf(DaaError);
      expect({ status: refused.status, code: refused.code, retryAfterSeconds: refused.details.retryAfterSeconds }).to.deep.equal({ status: 503, code: 'verify-busy', retryAfterSeconds: 1 });
      expect((await running).problems.map((p) => p.code)).to.include('not-a-device-certificate');
      expect((await waiting).problems.map((p) => p.code)).to.include('not-a-device-certificate');
      // Both done: room again.
      expect((await thread.check({ chainPem })).valid).to.equal(false);
    } finally {
      await thread.close();
    }
  });
});
