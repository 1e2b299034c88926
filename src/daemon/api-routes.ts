import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import type { Board } from '../device/board.js';
import type { ScenarioCatalog } from '../scenario/scenario-catalog.js';
import type { ApiTokenStore } from './api-token-store.js';
import type { BoardHealthBook } from './board-health.js';
import type { StepLibrary } from '../scenario/step-library.js';
import { jsonBody, validated, validateRequest } from './api-validation.js';
import { principalOf, requireRole, roleForMethod, type TokenVerifier } from './auth.js';
import { conflict, notFound } from './http-errors.js';
import { runToJson } from './json-report.js';
import { runToJUnitXml } from './junit-report.js';
import type { RunScheduler } from './run-scheduler.js';
import type { RunFilter, RunStore } from './run-store.js';

/**
 * The daemon's HTTP API under /api/v1 (documented in docs/daemon-api.yaml, also
 * served at /api/v1/openapi.yaml). Reads need a viewer token, changes an
 * operator token; every body and query is schema-checked, so a client mistake
 * is a 4xx naming the field, never a 500.
 */
export interface ApiContext {
  boards: () => ReadonlyMap<string, Board>;
  scheduler: RunScheduler;
  runs: RunStore;
  catalog: ScenarioCatalog;
  library: StepLibrary;
  verifier: TokenVerifier;
  tokens: ApiTokenStore;
  healthBook: BoardHealthBook;
  /** What GET /health adds to `ok: true`: readiness, versions, counts. */
  health: () => Record<string, unknown>;
}

/** The built-in scenario `POST /boards/{id}/recover` runs. */
export const RECOVERY_SCENARIO = 'recover-baseline';
const API_DOCUMENT = fileURLToPath(new URL('../../docs/daemon-api.yaml', import.meta.url));
const VERDICTS = ['passed', 'test-failed', 'device-fault', 'infra-error', 'timeout', 'cancelled', 'not-applicable'];
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

export function apiRoutes(context: ApiContext): Router {
  const api = express.Router();
  api.get('/health', (_req, res) => void res.json({ ok: true, ...context.health() }));
  // Token routes say they need admin, whatever the method would ask of others.
  const admin = requireRole(context.verifier, 'admin');
  api.use('/tokens', admin);
  api.use(requireRole(context.verifier, (req) => roleForMethod(req.method)));
  api.use(jsonBody({ limit: '256kb' }));

  // ---- tokens (admin)
  api.get('/tokens', admin, (_req, res) => void res.json(context.tokens.list()));
  api.post(
    '/tokens',
    admin,
    validateRequest({
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'role'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, role: { enum: ['viewer', 'operator', 'admin'] } },
      },
    }),
    (_req, res) => {
      const { name, role } = validated<{ name: string; role: 'viewer' | 'operator' | 'admin' }>(res).body;
      const created = context.tokens.create(name, role);
      res.status(201).json({ token: created.token, ...created.info });
    },
  );
  api.delete('/tokens/:id', admin, validateRequest({ params: idParams }), (req, res) => {
    if (!context.tokens.revoke(String(req.params.id))) throw notFound('token-not-found', `no token ${String(req.params.id)}`);
    res.status(204).end();
  });

  // Lets a client (the dashboard) show who it is and hide what its role may not do.
  api.get('/whoami', (_req, res) => {
    const principal = principalOf(res);
    res.json({ name: principal?.name ?? null, role: principal?.role ?? null });
  });

  api.get('/openapi.yaml', (_req, res) => void res.type('application/yaml').send(readFileSync(API_DOCUMENT, 'utf8')));

  // ---- boards
  api.get('/boards', async (_req, res) => {
    const boards = [...context.boards().values()];
    res.json(await Promise.all(boards.map((b) => describeBoard(b, context))));
  });
  api.get('/boards/:id', validateRequest({ params: idParams }), async (req, res) => {
    res.json(await describeBoard(boardOf(context, String(req.params.id)), context));
  });
  api.get(
    '/boards/:id/console',
    validateRequest({ params: idParams, query: { type: 'object', additionalProperties: false, properties: { since: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10000 } } } }),
    (req, res) => {
      const { since, limit } = validated<unknown, { since?: number; limit?: number }>(res).query;
      const lines = boardOf(context, String(req.params.id)).console.lines(since ?? 0);
      res.json(lines.slice(-(limit ?? 1000)));
    },
  );
  api.post(
    '/boards/:id/actions',
    validateRequest({
      params: idParams,
      body: { type: 'object', additionalProperties: false, required: ['action'], properties: { action: { enum: ['power-on', 'power-off', 'power-cycle', 'reset'] } } },
    }),
    async (req, res) => {
      const board = boardOf(context, String(req.params.id));
      const holder = `manual:${principalOf(res)?.name ?? 'api'}`;
      const lease = context.scheduler.leases.get(board.identity.id);
      if (lease && lease.holder !== holder) throw conflict('board-leased', `board ${board.identity.id} is busy (${lease.holder})`);
      // Not a fault of the daemon: the board cannot be reached (its info says why).
      if (board.state() === 'offline') {
        const info = await board.info({ timeoutMs: 3_000 }).catch(() => null);
        throw conflict('board-offline', `board ${board.identity.id} is offline${info?.offlineReason ? `: ${String(info.offlineReason)}` : ''}`);
      }
      const { action } = validated<{ action: string }>(res).body;
      const options = { timeoutMs: 30_000 };
      if (action === 'power-on') await board.power(true, options);
      else if (action === 'power-off') await board.power(false, options);
      else if (action === 'reset') await board.reset(options);
      else {
        await board.power(false, options);
        await board.power(true, options);
      }
      res.json({ ok: true, board: board.identity.id, action, state: board.state() });
    },
  );
  api.post(
    '/boards/:id/lease',
    validateRequest({ params: idParams, body: { type: 'object', additionalProperties: false, properties: { ttlMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 } } } }),
    (req, res) => {
      const board = boardOf(context, String(req.params.id));
      const holder = `manual:${principalOf(res)?.name ?? 'api'}`;
      const ttl = validated<{ ttlMs?: number }>(res).body.ttlMs ?? 60_000;
      const existing = context.scheduler.leases.get(board.identity.id);
      const lease = existing?.holder === holder ? context.scheduler.leases.renew(board.identity.id, holder, ttl) : context.scheduler.leases.acquire(board.identity.id, holder, 'manual', ttl);
      res.json(leaseJson(lease));
    },
  );
  api.delete('/boards/:id/lease', validateRequest({ params: idParams }), (req, res) => {
    const board = boardOf(context, String(req.params.id));
    context.scheduler.leases.release(board.identity.id, `manual:${principalOf(res)?.name ?? 'api'}`);
    context.scheduler.poke(board.identity.id);
    res.status(204).end();
  });

  // ---- board health
  api.post('/boards/:id/health-check', validateRequest({ params: idParams }), (req, res) => {
    const board = boardOf(context, String(req.params.id));
    const run = context.scheduler.requestHealthCheck(board.identity.id, principalOf(res)?.name ?? 'api');
    res.status(202).json({ runId: run.id, status: run.status });
  });
  // Recovery to the rig's baseline over the recovery UART (a board stuck in ROM included); it counts as a health check.
  api.post('/boards/:id/recover', validateRequest({ params: idParams }), (req, res) => {
    const board = boardOf(context, String(req.params.id));
    const run = context.scheduler.requestHealthCheck(board.identity.id, principalOf(res)?.name ?? 'api', context.catalog.get(RECOVERY_SCENARIO));
    res.status(202).json({ runId: run.id, status: run.status });
  });
  api.put(
    '/boards/:id/health',
    validateRequest({
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['status'],
        properties: { status: { enum: ['maintenance', 'retired', 'unknown'] }, reason: { type: 'string', maxLength: 500 } },
      },
    }),
    (req, res) => {
      const board = boardOf(context, String(req.params.id));
      const { status, reason } = validated<{ status: 'maintenance' | 'retired' | 'unknown'; reason?: string }>(res).body;
      const who = principalOf(res)?.name ?? 'api';
      const why = status === 'unknown' ? `returned to service by ${who}` : `${reason ?? `set by ${who}`}`;
      res.json(context.healthBook.set(board.identity.id, status, why));
    },
  );

  // ---- scenarios
  api.get('/scenarios', (_req, res) => {
    res.json(
      context.catalog.list().map((s) => ({
        name: s.name,
        description: s.description ?? '',
        tags: s.tags ?? [],
        params: s.params,
        digest: s.digest,
        steps: [...(s.setup ?? []), ...s.steps, ...(s.teardown ?? [])].map((step) => ({ type: step.type, name: step.name ?? step.type })),
      })),
    );
  });
  api.get('/steps', (_req, res) => void res.json(context.library.describe()));

  // ---- runs
  api.get(
    '/runs',
    validateRequest({
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          scenario: { type: 'string', maxLength: 100 },
          board: { type: 'string', maxLength: 100 },
          verdict: { enum: VERDICTS },
          status: { enum: ['queued', 'running', 'finished'] },
          kind: { enum: ['scenario', 'health-check'] },
          since: { type: 'string', maxLength: 40 },
          until: { type: 'string', maxLength: 40 },
          limit: { type: 'integer', minimum: 1, maximum: 1000 },
          offset: { type: 'integer', minimum: 0 },
        },
      },
    }),
    (_req, res) => {
      const q = validated<unknown, { scenario?: string; board?: string; verdict?: string; status?: string; kind?: string; since?: string; until?: string; limit?: number; offset?: number }>(res).query;
      const filter: RunFilter = {
        ...(q.scenario ? { scenario: q.scenario } : {}),
        ...(q.board ? { boardId: q.board } : {}),
        ...(q.verdict ? { verdict: q.verdict as never } : {}),
        ...(q.status ? { status: q.status as never } : {}),
        ...(q.kind ? { kind: q.kind as never } : {}),
        ...(q.since ? { from: q.since } : {}),
        ...(q.until ? { to: q.until } : {}),
        limit: q.limit ?? 50,
        offset: q.offset ?? 0,
      };
      res.json(context.runs.list(filter));
    },
  );
  api.post(
    '/runs',
    validateRequest({
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['scenario'],
        properties: {
          scenario: { type: 'string', minLength: 1, maxLength: 100 },
          boardId: { type: 'string', minLength: 1, maxLength: 100 },
          tags: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 64 } },
          params: { type: 'object' },
          holdOnFailureMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
        },
      },
    }),
    (_req, res) => {
      const body = validated<{ scenario: string; boardId?: string; tags?: string[]; params?: Record<string, unknown>; holdOnFailureMinutes?: number }>(res).body;
      if (!context.catalog.names().includes(body.scenario)) throw notFound('scenario-unknown', `unknown scenario '${body.scenario}' (known: ${context.catalog.names().join(', ')})`);
      if (body.boardId) boardOf(context, body.boardId);
      const scenario = context.catalog.get(body.scenario);
      const requestedBy = principalOf(res)?.name ?? null;
      const records = context.scheduler.submit({
        scenario,
        boardId: body.boardId,
        tags: body.tags,
        params: body.params,
        requestedBy,
        ...(body.holdOnFailureMinutes ? { holdOnFailure: { holder: `manual:${requestedBy ?? 'api'}`, minutes: body.holdOnFailureMinutes } } : {}),
      });
      res.status(201).json({
        runs: records.map((r) => ({ id: r.id, scenario: r.scenario, boardId: r.boardId, status: r.status, waiting: r.status === 'queued' ? context.scheduler.waitingReasonOf(r.id) : null })),
      });
    },
  );
  api.get('/runs/:id', validateRequest({ params: idParams }), (req, res) => {
    const run = runOf(context, String(req.params.id));
    res.json(run.status === 'queued' ? { ...run, waiting: context.scheduler.waitingReasonOf(run.id) } : run);
  });
  api.post('/runs/:id/cancel', validateRequest({ params: idParams }), (req, res) => {
    if (!context.scheduler.cancel(String(req.params.id))) throw notFound('run-not-active', `run ${req.params.id} is not queued or running`);
    res.json({ ok: true, id: req.params.id });
  });
  api.get('/runs/:id/junit', validateRequest({ params: idParams }), (req, res) => {
    const run = runOf(context, String(req.params.id));
    res.type('application/xml').attachment(`${run.scenario}-${run.id}.xml`).send(runToJUnitXml(run));
  });
  api.get('/runs/:id/report.json', validateRequest({ params: idParams }), (req, res) => {
    const run = runOf(context, String(req.params.id));
    res.type('application/json').attachment(`${run.scenario}-${run.id}.json`).send(runToJson(run));
  });
  api.get('/runs/:id/console', validateRequest({ params: idParams }), (req, res) => {
    const run = runOf(context, String(req.params.id));
    res.type('text/plain').send(run.console.map((l) => `${new Date(l.timestamp).toISOString()} ${l.channel ? `[${l.channel}] ` : ''}${l.text}`).join('\n') + '\n');
  });
  return api;
}

function boardOf(context: ApiContext, id: string): Board {
  const board = context.boards().get(id);
  if (!board) throw notFound('board-not-found', `no board '${id}' in this rig`);
  return board;
}

function runOf(context: ApiContext, id: string) {
  const run = context.runs.get(id);
  if (!run) throw notFound('run-not-found', `no run ${id}`);
  return run;
}

function leaseJson(lease: { boardId: string; holder: string; kind: string; expiresAt: number | null }) {
  return { boardId: lease.boardId, holder: lease.holder, kind: lease.kind, expiresAt: lease.expiresAt === null ? null : new Date(lease.expiresAt).toISOString() };
}

/** A board as the API shows it: identity, live state, what it runs, who holds it. */
async function describeBoard(board: Board, context: ApiContext): Promise<Record<string, unknown>> {
  const info = await board.info({ timeoutMs: 3_000 }).catch((error: unknown) => ({ state: board.state(), osVersion: null, apps: [], error: (error as Error).message }));
  const attestation = await (board as Board & { deviceAuth?: (o: { timeoutMs: number }) => Promise<unknown> }).deviceAuth?.({ timeoutMs: 3_000 }).catch(() => null);
  const lease = context.scheduler.leases.get(board.identity.id);
  const running = context.scheduler.runningOn(board.identity.id);
  const [last] = context.runs.list({ boardId: board.identity.id, kind: 'scenario', status: 'finished', limit: 1 }).runs;
  return {
    id: board.identity.id,
    driver: board.identity.driver,
    state: info.state,
    deviceId: board.identity.deviceId,
    usbSerial: board.identity.usbSerial,
    tags: board.identity.tags,
    tenant: board.identity.tenant,
    osVersion: info.osVersion ?? null,
    apps: info.apps ?? [],
    attestation: attestation ?? null,
    lease: lease ? leaseJson(lease) : null,
    runningRun: running ? { id: running.id, scenario: running.scenario } : null,
    queuedRuns: context.scheduler.queued(board.identity.id).length,
    health: context.healthBook.get(board.identity.id),
    lastRun: last ? { id: last.id, scenario: last.scenario, verdict: last.verdict, reason: last.reason, endedAt: last.endedAt } : null,
    waiting: context.scheduler.waiting(board.identity.id),
    ...('error' in info ? { error: info.error } : {}),
    ...('offlineReason' in info ? { offlineReason: info.offlineReason } : {}),
  };
}

