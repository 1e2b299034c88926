import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { jsonBody, validated, validateRequest } from '../../src/daemon/api-validation.js';
import { errorAnswer, HttpError, httpErrorHandler, notFoundHandler } from '../../src/daemon/http-errors.js';
import { InputError, RigError } from '../../src/util/failure.js';
import { rawRequest, type RawRequest, type RawResponse } from './helpers/http-request.js';
import { silentLogger } from './helpers/silent-logger.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SUBMIT_SCHEMA = {
  type: 'object',
  required: ['scenario'],
  additionalProperties: false,
  properties: {
    scenario: { type: 'string', minLength: 1, maxLength: 100 },
    boardId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    tags: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 64 } },
    params: { type: 'object', maxProperties: 50 },
    priority: { type: 'integer', minimum: 0, maximum: 10, default: 5 },
  },
};

const LIST_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    offset: { type: 'integer', minimum: 0 },
    verdict: { type: 'array', items: { enum: ['passed', 'test-failed', 'infra-error'] } },
    scenario: { type: 'string', maxLength: 100 },
  },
};

const RUN_PARAMS_SCHEMA = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f-]{1,64}$' } },
};

/** A small API built only from the plumbing, standing in for the daemon's routes. */
function plumbedApp(faults: unknown[]): express.Express {
  const app = express();
  app.use(jsonBody({ limit: '16kb' }));
  app.post('/api/v1/runs', validateRequest({ body: SUBMIT_SCHEMA }), (_req, res) => {
    res.status(201).json({ accepted: validated(res).body });
  });
  app.get('/api/v1/runs', validateRequest({ query: LIST_QUERY_SCHEMA }), (_req, res) => {
    res.json({ query: validated(res).query });
  });
  app.get('/api/v1/runs/:id', validateRequest({ params: RUN_PARAMS_SCHEMA }), (_req, res) => {
    res.json({ id: validated<unknown, unknown, { id: string }>(res).params.id });
  });
  app.post('/api/v1/boards/:id/power', validateRequest({ params: RUN_PARAMS_SCHEMA }), () => {
    throw new InputError('board-unknown', 'no board like that');
  });
  app.post('/api/v1/boards/:id/reset', () => {
    throw new RigError('device-fault', 'board-silent', 'the board did not answer');
  });
  app.get('/api/v1/crash', () => {
    throw new Error('a real bug');
  });
  app.use(notFoundHandler());
  app.use(
    httpErrorHandler({
      logger: { error: (_message: string, meta: unknown) => faults.push(meta) } as unknown as typeof silentLogger,
    }),
  );
  return app;
}


function malformedRequests(count: number, seed: number): RawRequest[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const json = { 'content-type': 'application/json' };
  const wrongValues: unknown[] = [42, -1, 1.5, true, null, [], {}, 'x'.repeat(200), ['a', 1], { nested: { deep: [] } }, '', '\u0000'];
  const makers: (() => RawRequest)[] = [
    // Bad JSON: truncated, trailing garbage, bare words, single quotes, random bytes, invalid UTF-8.
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ scenario: 'boot' }).slice(0, 1 + Math.floor(random() * 15)) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: pick(['{"scenario":"boot"}}', "{'scenario':'boot'}", 'undefined', 'NaN', '{"a":1,}', '[1,2', '"unterminated', '\u0000']) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256))) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }),
    // Valid JSON of the wrong shape: wrong types for each field, not an object, unknown fields.
    () => {
      const [field, accepts] = pick([
        ['boardId', (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v)],
        ['tags', (v: unknown) => Array.isArray(v) && v.every((t) => typeof t === 'string' && t.length <= 64)],
        ['params', (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v)],
        ['priority', (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 10],
      ] as const);
      return { method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ scenario: 'boot', [field]: pick(wrongValues.filter((v) => !accepts(v))) }) };
    },
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ scenario: pick(wrongValues.filter((v) => typeof v !== 'string' || v === '')) }) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify(pick([[], 'boot', 7, null, true, [{ scenario: 'boot' }]])) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ scenario: 'boot', [pick(['extra', 'constructor', '__proto__', 'Scenario', 'scenario '])]: 1 }) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: '{"scenario":"boot","__proto__":{"admin":true}}' }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ boardId: 'board-01' }) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: `${'['.repeat(20_000)}${']'.repeat(20_000)}` }),
    // Huge bodies, announced or chunked.
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ scenario: 'boot', params: { blob: 'z'.repeat(20_000 + Math.floor(random() * 2_000_000)) } }) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: json, body: Array.from({ length: 40 }, () => Buffer.alloc(4096, 0x20)) }),
    // Other media types, encodings and charsets; empty bodies.
    () => ({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) }, body: 'scenario=boot' }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: { ...json, 'content-encoding': pick(['br2', 'compress', 'x-unknown']) }, body: '{"scenario":"boot"}' }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: { ...json, 'content-encoding': 'gzip' }, body: pick([Buffer.from('not gzip at all'), gzipSync(Buffer.from('{"scenario":'))]) }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/json; charset=latin-99' }, body: '{"scenario":"boot"}' }),
    () => ({ method: 'POST', path: '/api/v1/runs', headers: { ...json, 'content-length': 0 } }),
    () => ({ method: 'POST', path: '/api/v1/runs' }),
    // Bad queries and path parameters.
    () => ({ path: `/api/v1/runs?limit=${pick(['abc', '-1', '0', '1001', '1.5', '1e999', '', '%00', '10&limit=20'])}` }),
    () => ({ path: `/api/v1/runs?verdict=${pick(['bogus', 'PASSED', '', 'passed&verdict=nope'])}` }),
    () => ({ path: `/api/v1/runs?${pick(['unknown=1', 'offset=-5', 'scenario=' + 'q'.repeat(300), 'limit[]=1', 'offset=x&offset=y', 'scenario=a&scenario=b', '__proto__=x', '__proto__=a&__proto__=b', 'constructor=1'])}` }),
    () => ({ path: `/api/v1/runs/${pick(['%E0%A4%A', '%', '%zz', 'UPPERCASE', 'x'.repeat(100), '..%2F..%2Fetc', 'run%00id'])}` }),
    () => ({ method: 'POST', path: `/api/v1/boards/${pick(['b1', 'zz'])}/power`, headers: json, body: '{}' }),
    () => ({ method: pick(['PUT', 'DELETE', 'PATCH']), path: '/api/v1/runs', headers: json, body: '{}' }),
    () => ({ path: `/api/v1/${pick(['nope', 'runs/a/b/c', 'metrics', ''])}` }),
  ];
  return Array.from({ length: count }, () => pick(makers)());
}

describe('HTTP plumbing: JSON errors, request validation, body limits', () => {
  let server: Server;
  let port: number;
  const faults: unknown[] = [];

  before(async () => {
    server = plumbedApp(faults).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => faults.splice(0));

  const send = (req: RawRequest): Promise<RawResponse> => rawRequest(port, req);
  const errorOf = (res: RawResponse): { code: string; message: string; field?: string; failureClass?: string } => (res.json as { error: never }).error;

  it('accepts a valid body, filling defaults', async () => {
    const res = await send({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/json' }, body: '{"scenario":"boot","tags":["emu"]}' });
    expect(res.status).to.equal(201);
    expect(res.json).to.deep.equal({ accepted: { scenario: 'boot', tags: ['emu'], priority: 5 } });
  });

  it('coerces query strings to the schema types', async () => {
    const res = await send({ path: '/api/v1/runs?limit=10&offset=0&verdict=passed' });
    expect(res.json).to.deep.equal({ query: { limit: 10, offset: 0, verdict: ['passed'] } });
  });

  it('answers 400 naming the field at fault', async () => {
    const post = (body: string): Promise<RawResponse> => send({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/json' }, body });
    const wrongType = await post('{"scenario":"boot","priority":"high"}');
    expect(wrongType.status).to.equal(400);
    expect(errorOf(wrongType)).to.deep.equal({ code: 'invalid-request', message: 'body.priority: must be integer', field: 'body.priority' });
    expect(errorOf(await post('{"boardId":"b1"}'))).to.include({ field: 'body.scenario', message: 'body.scenario: is required' });
    expect(errorOf(await post('{"scenario":"boot","extra":1}'))).to.include({ field: 'body.extra', message: 'body.extra: is not a known field' });
    expect(errorOf(await post('{"scenario":"boot","tags":["ok",7]}'))).to.include({ field: 'body.tags[1]' });
    expect(errorOf(await send({ path: '/api/v1/runs?limit=abc' }))).to.include({ field: 'query.limit' });
    expect(errorOf(await send({ path: '/api/v1/runs?limit=1e999' }))).to.include({ field: 'query.limit' });
    expect(errorOf(await send({ path: '/api/v1/runs?__proto__=a&__proto__=b' }))).to.include({ field: 'query.__proto__', message: 'query.__proto__: is not a known field' });
    expect(errorOf(await send({ path: '/api/v1/runs/NOT-HEX' }))).to.include({ field: 'params.id' });
    const malformed = await post('{"scenario":');
    expect(malformed.status).to.equal(400);
    expect(errorOf(malformed)).to.deep.equal({ code: 'malformed-json', message: 'the request body is not valid JSON' });
    const missing = await send({ method: 'POST', path: '/api/v1/runs' });
    expect(errorOf(missing)).to.include({ code: 'invalid-request', field: 'body' });
  });

  it('limits body size (413) and media type (415)', async () => {
    const huge = await send({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario: 'x', params: { blob: 'z'.repeat(100_000) } }) });
    expect(huge.status).to.equal(413);
    expect(errorOf(huge).code).to.equal('body-too-large');
    const text = await send({ method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).to.equal(415);
    expect(errorOf(text).code).to.equal('unsupported-media-type');
  });

  it('maps rig errors by failure class and hides real faults behind a logged 500', async () => {
    expect((await send({ method: 'POST', path: '/api/v1/boards/ab/power', headers: { 'content-type': 'application/json' }, body: '{}' })).json).to.deep.equal({
      error: { code: 'board-unknown', message: 'no board like that' },
    });
    const device = await send({ method: 'POST', path: '/api/v1/boards/ab/reset' });
    expect(device.status).to.equal(502);
    expect(errorOf(device)).to.deep.equal({ code: 'board-silent', message: 'the board did not answer', failureClass: 'device-fault' });
    const crash = await send({ path: '/api/v1/crash' });
    expect(crash.status).to.equal(500);
    expect(crash.json).to.deep.equal({ error: { code: 'internal-error', message: 'internal error', failureClass: 'infra-error' } });
    expect(faults).to.have.length(1);
    expect(JSON.stringify(faults[0])).to.contain('a real bug');
    const missing = await send({ path: '/nowhere' });
    expect(missing.status).to.equal(404);
    expect(errorOf(missing).code).to.equal('not-found');
  });

  it('answers 200 malformed requests with 4xx, never 500, and logs no fault', async function () {
    this.timeout(60_000);
    const seed = Number(process.env.SPHERE_RIG_FUZZ_SEED ?? Date.now() % 1_000_000);
    const requests = malformedRequests(200, seed);
    const statuses = new Map<number, number>();
    for (const [index, req] of requests.entries()) {
      const res = await send(req);
      const label = `request ${index} (seed ${seed}): ${req.method ?? 'GET'} ${req.path} -> ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.status, label).to.be.within(400, 499);
      expect(errorOf(res)?.code, label).to.be.a('string');
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(faults, 'faults logged').to.deep.equal([]);
    expect([...statuses.keys()]).to.include.members([400, 404, 413, 415]);
    expect((await send({ path: '/api/v1/runs?limit=1' })).status).to.equal(200);
  });

  it('turns every thrown value into an answer', () => {
    expect(errorAnswer('a string').status).to.equal(500);
    expect(errorAnswer(undefined).status).to.equal(500);
    expect(errorAnswer(new HttpError(409, 'busy', 'board busy')).body).to.deep.equal({ error: { code: 'busy', message: 'board busy' } });
    expect(errorAnswer(new RigError('timeout', 't', 'slow')).status).to.equal(504);
    expect(errorAnswer(Object.assign(new Error('too many'), { status: 413, type: 'entity.too.large' })).body.error.code).to.equal('body-too-large');
    expect(errorAnswer(Object.assign(new Error('boom'), { status: 503 })).status).to.equal(500);
  });
});
