import { expect } from 'chai';
import express from 'express';
import { XMLParser } from 'fast-xml-parser';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jsonBody, validated, validateRequest } from '../../src/daemon/api-validation.js';
import { ApiTokenStore, ensureLocalAdminToken } from '../../src/daemon/api-token-store.js';
import { principalOf, requireRole, roleForMethod } from '../../src/daemon/auth.js';
import { EventBus } from '../../src/daemon/event-bus.js';
import { EventStreamServer } from '../../src/daemon/event-stream-server.js';
import { httpErrorHandler, notFound, notFoundHandler } from '../../src/daemon/http-errors.js';
import { runToJUnitXml } from '../../src/daemon/junit-report.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { RunEventPublisher } from '../../src/daemon/run-event-publisher.js';
import { RunStore, type RunFilter } from '../../src/daemon/run-store.js';
import { STREAM_PATH } from '../../src/daemon/stream-protocol.js';
import { queuedRunRecord, type RunRecord } from '../../src/scenario/run-record.js';
import type { RunObserver } from '../../src/scenario/runner.js';
import { rawRequest } from './helpers/http-request.js';
import { silentLogger } from './helpers/silent-logger.js';
import { StreamClient } from './helpers/stream-client.js';
import { TempDir } from './helpers/temp-dir.js';

/**
 * The pieces of src/daemon wired the way the daemon is meant to wire them: one
 * HTTP server carrying the API, /metrics and the event stream.
 */
describe('daemon infrastructure wired together', () => {
  let dir: TempDir;
  let bus: EventBus;
  let runs: RunStore;
  let stream: EventStreamServer;
  let server: Server;
  let port: number;
  let adminToken: string;
  let viewerToken: string;

  before(async () => {
    dir = new TempDir();
    bus = EventBus.open({ path: dir.file('events.sqlite'), logger: silentLogger });
    runs = RunStore.open(dir.file('runs.sqlite'));
    runs.markInterrupted();
    const tokens = ApiTokenStore.open(dir.file('api-tokens.json'));
    adminToken = ensureLocalAdminToken(tokens, dir.file('admin-token')).token;
    viewerToken = tokens.create('dashboard', 'viewer').token;
    const events = new RunEventPublisher(bus, { logger: silentLogger });
    // The publisher is the runner's observer as it is (checked by the type-checker).
    events satisfies RunObserver;

    const app = express();
    const api = express.Router();
    api.use(requireRole(tokens, (req) => roleForMethod(req.method)));
    api.use(jsonBody());
    api.get(
      '/runs',
      validateRequest({ query: { type: 'object', additionalProperties: false, properties: { scenario: { type: 'string' }, limit: { type: 'integer', minimum: 1 } } } }),
      (_req, res) => void res.json(runs.list(validated<unknown, RunFilter>(res).query)),
    );
    api.post(
      '/runs',
      validateRequest({ body: { type: 'object', required: ['scenario', 'boardId'], additionalProperties: false, properties: { scenario: { type: 'string' }, boardId: { type: 'string' } } } }),
      (_req, res) => {
        const { scenario, boardId } = validated<{ scenario: string; boardId: string }>(res).body;
        const record = queuedRunRecord({
          id: randomUUID(),
          scenario,
          scenarioDigest: 'sha256:00',
          boardId,
          requestedBy: principalOf(res)?.name ?? null,
        });
        runs.create(record);
        events.runQueued(record);
        res.status(201).json(record);
      },
    );
    api.get('/runs/:id/junit', (req, res) => {
      const run = runs.get(req.params.id);
      if (!run) throw notFound('run-not-found', `no run ${req.params.id}`);
      res.type('application/xml').send(runToJUnitXml(run));
    });
    app.use('/api/v1', api);

    server = createServer(app);
    stream = new EventStreamServer({ server, bus, verifier: tokens, logger: silentLogger });
    const metrics = new DaemonMetrics({ runs, bus, stream, boardStates: () => ['ready'] }, { logger: silentLogger });
    app.get('/metrics', metrics.handler());
    app.use(notFoundHandler());
    app.use(httpErrorHandler({ logger: silentLogger }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await stream.close();
    await new Promise((resolve) => server.close(resolve));
    bus.close();
    runs.close();
    dir.remove();
  });

  it('submits a run, streams its event, lists it, exports it and counts it', async () => {
    const watcher = await StreamClient.connect(`ws://127.0.0.1:${port}${STREAM_PATH}?subscribe=run:*&token=${viewerToken}`);
    await watcher.waitForControl('live');

    const refused = await rawRequest(port, { method: 'POST', path: '/api/v1/runs', headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).to.equal(403);
    const submitted = await rawRequest(port, {
      method: 'POST',
      path: '/api/v1/runs',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scenario: 'boot-smoke', boardId: 'board-01' }),
    });
    expect(submitted.status).to.equal(201);
    const run = submitted.json as RunRecord;
    expect(run.requestedBy).to.equal('local-admin');

    await watcher.waitForEvents(1);
    expect(watcher.events[0]).to.deep.include({ topic: `run:${run.id}`, type: 'run.queued' });

    const list = await rawRequest(port, { path: '/api/v1/runs?scenario=boot-smoke&limit=5', headers: { authorization: `Bearer ${viewerToken}` } });
    expect((list.json as { total: number }).total).to.equal(1);

    const junit = await rawRequest(port, { path: `/api/v1/runs/${run.id}/junit`, headers: { authorization: `Bearer ${viewerToken}` } });
    const suite = new XMLParser({ ignoreAttributes: false }).parse(junit.text) as { testsuites: { testsuite: Record<string, string> } };
    expect(suite.testsuites.testsuite['@_id']).to.equal(run.id);
    expect((await rawRequest(port, { path: '/api/v1/runs/nope/junit', headers: { authorization: `Bearer ${viewerToken}` } })).status).to.equal(404);

    const metrics = await rawRequest(port, { path: '/metrics' });
    expect(metrics.text).to.match(/^sphere_rig_runs_queued 1$/m);
    expect(metrics.text).to.match(/^sphere_rig_stream_clients 1$/m);
    await watcher.close();
  });
});
