import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaaClient } from '../../src/daa/daa-client.js';
import type { DaaError } from '../../src/daa/daa-error.js';
import type { DaemonEvent } from '../../src/daemon/daemon-event.js';
import type { ErrorBody } from '../../src/daemon/http-errors.js';
import type { RunRecord } from '../../src/scenario/run-record.js';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { runCli } from '../helpers/run-cli.js';
import { StreamClient } from './helpers/stream-client.js';
import { waitFor } from './helpers/temp-dir.js';

const RIG = fileURLToPath(new URL('./fixtures/wiring-rig.yaml', import.meta.url));

/**
 * The daemon as `sphere-rig up` wires it (src/daemon/daemon.ts, api-routes.ts):
 * one HTTP server carrying the API with its auth, validation and error
 * answers, /metrics and the event stream. The rig has one real board that is
 * not attached, so no emulator starts and a run on the board ends infra-error.
 */
describe('the daemon HTTP server as the daemon wires it: API, auth, errors, metrics, stream', function () {
  this.timeout(120_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let viewer: string;
  let operator: string;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-wiring-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
    const create = async (name: string, role: string): Promise<string> => {
      const created = await daemon.request<{ token: string }>('POST', '/api/v1/tokens', { name, role });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      return created.body.token;
    };
    viewer = await create('qa-viewer', 'viewer');
    operator = await create('qa-operator', 'operator');
  });

  after(async () => {
    await daemon?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const streamUrl = (query: string) => `${daemon.url.replace('http', 'ws')}/api/v1/stream?${query}`;

  /** Status, error code and field of an answer (code and field undefined when it is no error). */
  async function answer(method: string, path: string, body?: unknown, token: string | null = daemon.token) {
    const { status, body: parsed } = await daemon.request<Partial<ErrorBody>>(method, path, body, token);
    return { status, code: parsed?.error?.code, field: parsed?.error?.field };
  }

  it('gives each role what it may do and no more, on the API, /metrics and the stream', async () => {
    expect(await answer('GET', '/api/v1/health', undefined, null)).to.deep.equal({ status: 200, code: undefined, field: undefined });
    expect(await answer('GET', '/api/v1/boards', undefined, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect(await answer('GET', '/api/v1/boards', undefined, 'srt_nope_nope')).to.deep.include({ status: 401, code: 'invalid-token' });
    expect(await answer('GET', '/metrics', undefined, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect((await daemon.request('GET', '/api/v1/whoami', undefined, viewer)).body).to.deep.equal({ name: 'qa-viewer', role: 'viewer' });

    // Reads are for viewers; the role is checked before the body is.
    expect((await answer('GET', '/api/v1/runs', undefined, viewer)).status).to.equal(200);
    expect((await answer('GET', '/metrics', undefined, viewer)).status).to.equal(200);
    expect(await answer('POST', '/api/v1/runs', {}, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    expect(await answer('POST', '/api/v1/boards/bench-1/actions', { action: 'reset' }, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    expect(await answer('POST', '/api/v1/boards/bench-1/lease', {}, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    // Tokens are for admins only.
    expect(await answer('GET', '/api/v1/tokens', undefined, operator)).to.deep.include({ status: 403, code: 'forbidden' });
    expect(await answer('POST', '/api/v1/tokens', { name: 'x', role: 'admin' }, operator)).to.deep.include({ status: 403, code: 'forbidden' });
    expect(await answer('POST', '/api/v1/tokens', { name: 'x', role: 'admin' }, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    const tokens = await daemon.request<Array<{ name: string; role: string }>>('GET', '/api/v1/tokens');
    expect(tokens.body.map((t) => [t.name, t.role])).to.deep.equal([
      ['local-admin', 'admin'],
      ['qa-viewer', 'viewer'],
      ['qa-operator', 'operator'],
    ]);

    // The CLI's stream says so at once instead of retrying for ever.
    const watch = await runCli(['watch', '--daemon', daemon.url, '--token', 'srt_nope_nope'], { timeoutMs: 20_000 });
    expect(watch.code).to.equal(2);
    expect(watch.stderr).to.contain(`the daemon at ${daemon.url} refused the token for its event stream (HTTP 401)`);

    for (const query of ['subscribe=*', 'subscribe=*&token=srt_nope_nope']) {
      const refused = await StreamClient.connect(streamUrl(query)).then(
        () => expect.fail(`stream opened with ${query}`),
        (error: { status?: number }) => error,
      );
      expect(refused.status, query).to.equal(401);
    }
  });

  it('answers only to loopback Host names: another name (DNS rebinding from a browser page) gets 421', async () => {
    const hostAnswer = (host: string) =>
      new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
        const request = httpRequest(`${daemon.url}/api/v1/boards`, { headers: { host, authorization: `Bearer ${daemon.token}` } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode!, code: (JSON.parse(body) as Partial<ErrorBody>).error?.code }));
        });
        request.on('error', reject);
        request.end();
      });
    expect(await hostAnswer('attacker.example:8480')).to.deep.equal({ status: 421, code: 'host-refused' });
    expect(await hostAnswer('127.0.0.1.nip.io')).to.deep.equal({ status: 421, code: 'host-refused' });
    for (const host of [`127.0.0.1:${daemon.port}`, `localhost:${daemon.port}`, `[::1]:${daemon.port}`, '127.0.0.2']) {
      expect((await hostAnswer(host)).status, host).to.equal(200);
    }
  });

  it('answers malformed and unknown requests with their exact 4xx, never 500, creates nothing, and stays healthy', async () => {
    const cases: Array<[string, string, unknown, number, string, string?]> = [
      ['POST', '/api/v1/runs', '{not json', 400, 'malformed-json'],
      ['POST', '/api/v1/runs', {}, 400, 'invalid-request', 'body.scenario'],
      ['POST', '/api/v1/runs', { scenario: 42 }, 400, 'invalid-request', 'body.scenario'],
      ['POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'bench-1', extra: true }, 400, 'invalid-request', 'body.extra'],
      ['POST', '/api/v1/runs', { scenario: 'boot-smoke' }, 400, 'no-selection'],
      ['POST', '/api/v1/runs', { scenario: 'no-such', boardId: 'bench-1' }, 404, 'scenario-unknown'],
      ['POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'nope' }, 404, 'board-not-found'],
      ['POST', '/api/v1/runs', { scenario: 'boot-smoke', tags: ['no-such-tag'] }, 404, 'no-board-matches'],
      ['POST', '/api/v1/runs', 'x'.repeat(400_000), 413, 'body-too-large'],
      ['GET', '/api/v1/runs?limit=abc', undefined, 400, 'invalid-request', 'query.limit'],
      ['GET', '/api/v1/runs?limit=1e999', undefined, 400, 'invalid-request', 'query.limit'],
      ['GET', '/api/v1/runs?verdict=great', undefined, 400, 'invalid-request', 'query.verdict'],
      ['GET', '/api/v1/runs?__proto__=1', undefined, 400, 'invalid-request', 'query.__proto__'],
      ['GET', '/api/v1/runs/does-not-exist', undefined, 404, 'run-not-found'],
      ['GET', '/api/v1/runs/does-not-exist/junit', undefined, 404, 'run-not-found'],
      ['GET', '/api/v1/runs/does-not-exist/report.json', undefined, 404, 'run-not-found'],
      ['POST', '/api/v1/runs/does-not-exist/cancel', undefined, 404, 'run-not-active'],
      ['GET', '/api/v1/boards/nope', undefined, 404, 'board-not-found'],
      ['POST', '/api/v1/boards/bench-1/actions', { action: 'explode' }, 400, 'invalid-request', 'body.action'],
      ['POST', '/api/v1/boards/bench-1/lease', { ttlMs: -1 }, 400, 'invalid-request', 'body.ttlMs'],
      ['DELETE', '/api/v1/tokens/no-such-token', undefined, 404, 'token-not-found'],
      ['DELETE', '/api/v1/nothing', undefined, 404, 'not-found'],
      ['PUT', '/api/v1/boards', { a: 1 }, 404, 'not-found'],
      ['GET', '/no-such-page', undefined, 404, 'not-found'],
    ];
    let count = 0;
    while (count < 200) {
      for (const [method, path, body, status, code, field] of cases) {
        const got = await answer(method, path, body);
        expect(got, `${method} ${path} ${JSON.stringify(body)?.slice(0, 60)}`).to.deep.equal({ status, code, field });
        count++;
      }
    }
    // A body that is not JSON at all is refused for its type.
    const text = await fetch(`${daemon.url}/api/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'text/plain' }, body: 'boot-smoke' });
    expect([text.status, ((await text.json()) as ErrorBody).error.code]).to.deep.equal([415, 'unsupported-media-type']);

    expect((await daemon.request<{ total: number }>('GET', '/api/v1/runs')).body.total, 'no run was created').to.equal(0);
    expect((await daemon.request<{ ok: boolean }>('GET', '/api/v1/health', undefined, null)).body.ok).to.equal(true);
  });

  it('leaves the DAA service open to devices and relying parties only: managing it at /daa takes a token', async () => {
    // Management: reads for viewers, changes for operators, nothing without a token.
    expect(await answer('POST', '/daa/tenants', { name: 'wiring' }, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect(await answer('POST', '/daa/tenants', { name: 'wiring' }, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    const created = await daemon.request<{ id: string }>('POST', '/daa/tenants', { name: 'wiring' }, operator);
    expect(created.status).to.equal(201);
    const tenantId = created.body.id;
    expect(await answer('GET', '/daa/tenants', undefined, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect((await answer('GET', '/daa/tenants', undefined, viewer)).status).to.equal(200);
    expect(await answer('PUT', '/daa/tenants/wiring/policy', { developmentMode: 'allow' }, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect(await answer('POST', `/daa/devices/${'a'.repeat(128)}/revoke`, {}, null)).to.deep.include({ status: 401, code: 'unauthenticated' });
    expect(await answer('POST', '/daa/tenants/wiring/ca/rotate', {}, viewer)).to.deep.include({ status: 403, code: 'forbidden' });
    expect(await answer('GET', '/daa/audit', undefined, null)).to.deep.include({ status: 401, code: 'unauthenticated' });

    // What a device or a relying party needs carries no rig token.
    expect((await answer('POST', '/daa/sessions', {}, null)).status).to.equal(201);
    expect((await answer('GET', '/daa/pki/root', undefined, null)).status).to.equal(200);
    // The tenant CA downloads by the tenant's id; its name only with a token (names are not told to anyone).
    expect((await answer('GET', `/daa/tenants/${tenantId}/ca`, undefined, null)).status).to.equal(200);
    expect((await answer('GET', `/daa/tenants/${tenantId}/ca/crl`, undefined, null)).status).to.equal(200);
    expect(await answer('GET', '/daa/tenants/wiring/ca', undefined, null)).to.deep.include({ status: 404, code: 'not-found' });
    expect((await answer('GET', '/daa/tenants/wiring/ca', undefined, viewer)).status).to.equal(200);
    expect((await answer('POST', '/daa/verify', { chainPem: 'not a chain' }, null)).status).to.equal(200);

    // The DAA client (the CLI's --service mode) sends its token.
    expect((await new DaaClient(`${daemon.url}/daa`, { token: viewer }).listTenants()).map((t) => t.name)).to.include('wiring');
    const refused = await new DaaClient(`${daemon.url}/daa`).listTenants().then(
      () => expect.fail('listed tenants without a token'),
      (error: DaaError) => error,
    );
    expect(refused.status).to.equal(401);
    // And so does the CLI's --service mode, with --token.
    const listed = await runCli(['daa', 'tenant', 'list', '--service', `${daemon.url}/daa`, '--token', viewer, '--json']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect((JSON.parse(listed.stdout) as Array<{ name: string }>).map((t) => t.name)).to.include('wiring');
    const withoutToken = await runCli(['daa', 'tenant', 'list', '--service', `${daemon.url}/daa`], { env: { SPHERE_RIG_TOKEN: '' } });
    expect(withoutToken.code).to.equal(3);
    expect(withoutToken.stderr).to.contain('an API token is required (Authorization: Bearer <token>): give --token or SPHERE_RIG_TOKEN');
  });

  it('serves its OpenAPI document', async () => {
    const doc = await daemon.request<string>('GET', '/api/v1/openapi.yaml', undefined, viewer);
    expect(doc.status).to.equal(200);
    expect(doc.body).to.match(/^openapi: 3/);
  });

  it('queues an operator’s run behind a lease, streams, lists, counts and exports it, and replays its events', async () => {
    const watcher = await StreamClient.connect(streamUrl(`subscribe=run:*&token=${viewer}`));
    try {
      await watcher.waitForControl('live');
      const lease = await daemon.request<{ holder: string; expiresAt: string }>('POST', '/api/v1/boards/bench-1/lease', { ttlMs: 60_000 }, operator);
      expect(lease.status).to.equal(200);
      expect(lease.body.holder).to.equal('manual:qa-operator');

      const submitted = await daemon.request<{ runs: Array<{ id: string; scenario: string; boardId: string; status: string }> }>(
        'POST',
        '/api/v1/runs',
        { scenario: 'boot-smoke', boardId: 'bench-1' },
        operator,
      );
      expect(submitted.status).to.equal(201);
      const [queued] = submitted.body.runs;
      expect(submitted.body.runs).to.deep.equal([{ id: queued!.id, scenario: 'boot-smoke', boardId: 'bench-1', status: 'queued', waiting: `board bench-1 is leased by manual:qa-operator until ${lease.body.expiresAt}` }]);
      const id = queued!.id;

      await watcher.waitForEvents(1);
      expect(watcher.events[0]).to.deep.include({ topic: `run:${id}`, type: 'run.queued' });
      expect(watcher.events[0]!.payload).to.deep.include({ runId: id, scenario: 'boot-smoke', boardId: 'bench-1', requestedBy: 'qa-operator' });

      const held = await daemon.request<RunRecord>('GET', `/api/v1/runs/${id}`, undefined, viewer);
      expect(held.body).to.deep.include({ status: 'queued', requestedBy: 'qa-operator' });
      const listed = await daemon.request<{ total: number; runs: Array<{ id: string }> }>('GET', '/api/v1/runs?scenario=boot-smoke&limit=5', undefined, viewer);
      expect([listed.body.total, listed.body.runs.map((r) => r.id)]).to.deep.equal([1, [id]]);
      expect((await daemon.request<{ total: number }>('GET', '/api/v1/runs?scenario=recovery', undefined, viewer)).body.total).to.equal(0);

      const whileQueued = await daemon.request<string>('GET', '/metrics', undefined, viewer);
      expect(whileQueued.body).to.match(/^sphere_rig_runs_queued 1$/m);
      expect(whileQueued.body).to.match(/^sphere_rig_stream_clients 1$/m);
      expect(whileQueued.body).to.match(/^sphere_rig_boards\{state="offline"\} 1$/m);

      // Released, the lease lets the run go; on a board that is not there it ends infra-error.
      expect((await daemon.request('DELETE', '/api/v1/boards/bench-1/lease', undefined, operator)).status).to.equal(204);
      await waitFor(() => watcher.events.some((e) => e.type === 'run.ended'), 60_000, 'run.ended');
      const types = watcher.events.map((e) => e.type);
      expect(types.slice(0, 3), types.join(' ')).to.deep.equal(['run.queued', 'run.waiting', 'run.started']);
      expect(types.at(-1)).to.equal('run.ended');
      expect(watcher.events.every((e) => e.topic === `run:${id}`)).to.equal(true);

      const finished = await daemon.request<RunRecord>('GET', `/api/v1/runs/${id}`, undefined, viewer);
      expect(finished.body).to.deep.include({ status: 'finished', verdict: 'infra-error' });
      expect(finished.body.reason).to.contain('board bench-1 is offline');

      const junit = await fetch(`${daemon.url}/api/v1/runs/${id}/junit`, { headers: { authorization: `Bearer ${viewer}` } });
      expect(junit.headers.get('content-type')).to.match(/^application\/xml/);
      const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(await junit.text()) as {
        testsuites: { errors: string; testsuite: { id: string; testcase: unknown } };
      };
      expect(xml.testsuites.testsuite.id).to.equal(id);
      expect(Number(xml.testsuites.errors)).to.be.greaterThan(0);
      const errors = [xml.testsuites.testsuite.testcase].flat().flatMap((c) => [(c as { error?: { type: string } }).error ?? []].flat());
      expect(errors.map((e) => e.type)).to.include('infra-error');

      const afterwards = await daemon.request<string>('GET', '/metrics', undefined, viewer);
      expect(afterwards.body).to.match(/^sphere_rig_runs_queued 0$/m);
      expect(afterwards.body).to.match(/^sphere_rig_runs_finished_total\{verdict="infra-error"\} 1$/m);

      // The same events, from the event log, to a client that resumes from the start.
      const replay = await StreamClient.connect(streamUrl(`subscribe=run:${id}&since=0&token=${viewer}`));
      await replay.waitForControl('live');
      await replay.close();
      const seqs = (events: DaemonEvent[]) => events.map((e) => [e.seq, e.type]);
      expect(seqs(replay.events)).to.deep.equal(seqs(watcher.events));
    } finally {
      await watcher.close();
    }
  });
});
