import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { DaaError } from '../daa-error.js';
import type { DaaService } from '../daa-service.js';
import { refusalStatus } from '../refusal-reasons.js';
import type { SessionRequest } from '../protocol.js';
import { RelyingPartyThread } from '../relying-party-thread.js';
import { compileSchema, formatProblems } from '../schema-check.js';
import { componentLogger } from '../../util/logger.js';
import { readJsonBody } from './read-json-body.js';
import { tenantDownload } from './tenant-download.js';
import * as schemas from './request-schemas.js';

/**
 * The DAA service over HTTP, as an express Router the daemon mounts (for
 * example at /daa) or `sphere-rig daa serve` runs alone. JSON in and out,
 * except the certificate downloads (PEM). Errors are `{error: {code, message}}`
 * with a 4xx status; refused attestations are results, `{verdict: "refused",
 * reasons: [{code, recoverable, detail}]}`, with the status of the first reason.
 *
 *   POST /sessions                           {deviceId?} -> 201 {sessionId, nonce, expiresAt, tenant}
 *   POST /sessions/:id/evidence              {evidence}  -> 200 affirming | 4xx refused
 *   GET  /tenants                            POST /tenants {name, id?, developmentMode?}
 *   GET  /tenants/:t                         PUT  /tenants/:t/policy {developmentMode}
 *   GET  /tenants/:t/devices                 POST /tenants/:t/devices {deviceId}       (claim)
 *   GET  /tenants/:t/reference-values        PUT  /tenants/:t/reference-values {...}
 *   GET  /tenants/:t/ca[?thumbprint=]        PEM of the tenant CA (without a token: :t is the tenant's id)
 *   GET  /tenants/:t/ca/chain[?thumbprint=]  PKCS#7 (PEM): tenant CA, intermediate, root
 *   GET  /tenants/:t/ca/list                 [{thumbprint, status, active, revoked, ...}]
 *   GET  /tenants/:t/ca/crl[?thumbprint=]    CRL (PEM) of the device certificates revoked
 *   POST /tenants/:t/ca/rotate {activate?}   PUT  /tenants/:t/ca/:thumbprint {status}
 *   GET  /devices/:id                        POST /devices/:id/revoke {reason?}
 *   GET  /pki/root                           GET  /pki/crl (revoked tenant CAs)
 *   POST /verify {chainPem, expectedDeviceId?, at?, trustAnchorsPem?}   relying-party check
 *   GET  /audit[?deviceId=&tenant=&verdict=&limit=]
 *
 * Bodies are JSON: `Content-Type: application/json`, UTF-8 (no charset, or
 * charset=utf-8). A body of another type, or with none, is refused with 415
 * `unsupported-media-type` (another charset: 415 `unsupported-charset`); on the
 * evidence route too, before the session is touched, since nothing was
 * submitted. A request without a body reads as `{}`.
 *
 * POST /verify is open to anyone (relying parties carry no rig token), so what
 * it may cost is bounded: a body of at most 64 KiB, at most 10 certificates in
 * chainPem and trustAnchorsPem together (413 and 400 `too-many-certificates`
 * past those), and the check runs on a thread of its own, one at a time, with
 * a few waiting; more are refused with 503 `verify-busy` and Retry-After
 * (relying-party-thread.ts).
 */
export interface DaaRouterOptions {
  /** Largest evidence body; default 64 KiB. */
  evidenceLimitBytes?: number;
  /** Largest other bodies; default 1 MiB (reference values, chains). */
  bodyLimitBytes?: number;
  /** Largest POST /verify body; default 64 KiB (a device chain of PEM certificates is 3 to 5 KiB). */
  verifyLimitBytes?: number;
  /** Most certificates in one POST /verify, chain and trust anchors together; default 10. */
  verifyMaxCertificates?: number;
  /** POST /verify checks that may wait while one runs; more answer 503. Default 8. */
  verifyMaxWaiting?: number;
  /** How long a body may take to arrive; default 10 s. */
  bodyTimeoutMs?: number;
}

/** The router, and what stops its relying-party thread (it also stops by itself when idle). */
export type DaaRouter = Router & { close(): Promise<void> };

export const VERIFY_LIMIT_BYTES = 64 * 1024;
export const VERIFY_MAX_CERTIFICATES = 10;

const log = componentLogger('daa');
const PEM = 'application/x-pem-file';

type Handler = (req: Request, res: Response) => Promise<void> | void;

export function createDaaRouter(service: DaaService, options: DaaRouterOptions = {}): DaaRouter {
  const evidenceLimit = options.evidenceLimitBytes ?? 64 * 1024;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const verifyLimit = options.verifyLimitBytes ?? VERIFY_LIMIT_BYTES;
  const verifyMaxCertificates = options.verifyMaxCertificates ?? VERIFY_MAX_CERTIFICATES;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const router = express.Router({ caseSensitive: true, strict: false });
  const relyingParty = new RelyingPartyThread(service, { maxWaiting: options.verifyMaxWaiting });

  const body = async <T>(req: Request, check: (value: unknown) => { ok: true; value: T } | { ok: false; problems: { path: string; message: string }[] }, limit = bodyLimit): Promise<T> => {
    const read = await readJsonBody(req, { limitBytes: limit, timeoutMs: bodyTimeoutMs });
    if (read.kind === 'unsupported-media-type') throw new DaaError(read.code, 415, read.detail);
    if (read.kind === 'too-large') throw new DaaError('body-too-large', 413, read.detail, { limitBytes: limit });
    if (read.kind === 'malformed') throw new DaaError('body-malformed', 400, read.detail);
    const result = check(read.value);
    if (!result.ok) throw new DaaError('body-invalid', 400, `request body: ${formatProblems(result.problems)}`, { problems: result.problems });
    return result.value;
  };
  const query = <T>(req: Request, check: (value: unknown) => { ok: true; value: T } | { ok: false; problems: { path: string; message: string }[] }): T => {
    const result = check({ ...req.query });
    if (!result.ok) throw new DaaError('query-invalid', 400, `query: ${formatProblems(result.problems)}`, { problems: result.problems });
    return result.value;
  };
  const route = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(next);
  };

  const sessionRequest = compileSchema<SessionRequest>(schemas.SESSION_REQUEST);
  const createTenant = compileSchema<{ name: string; id?: string; developmentMode?: 'allow' | 'forbid' }>(schemas.CREATE_TENANT);
  const tenantPolicy = compileSchema<{ developmentMode: 'allow' | 'forbid' }>(schemas.TENANT_POLICY);
  const claimDevice = compileSchema<{ deviceId: string }>(schemas.CLAIM_DEVICE);
  const revokeDevice = compileSchema<{ reason?: string }>(schemas.REVOKE_DEVICE);
  const rotateCa = compileSchema<{ activate?: boolean }>(schemas.ROTATE_CA);
  const caStatus = compileSchema<{ status: 'Active' | 'Inactive' | 'Revoked' }>(schemas.CA_STATUS);
  const verifyChain = compileSchema<{ chainPem: string; expectedDeviceId?: string; at?: string; trustAnchorsPem?: string }>(schemas.VERIFY_CHAIN);
  const thumbprintQuery = compileSchema<{ thumbprint?: string }>(schemas.THUMBPRINT_QUERY);
  const auditQuery = compileSchema<{ deviceId?: string; tenant?: string; verdict?: 'affirming' | 'refused'; limit?: string }>(schemas.AUDIT_QUERY);
  const emptyQuery = compileSchema<Record<string, never>>(schemas.EMPTY_QUERY);
  const anyDocument = (value: unknown) => ({ ok: true as const, value });

  // ---- attestation
  router.post('/sessions', route(async (req, res) => {
    const request = await body(req, sessionRequest, 4096);
    res.status(201).json(service.createSession(request));
  }));
  router.post('/sessions/:id/evidence', route(async (req, res) => {
    const read = await readJsonBody(req, { limitBytes: evidenceLimit, timeoutMs: bodyTimeoutMs });
    // Not JSON at all: refused as a request, the session untouched (a body that is JSON, however wrong, is evidence refused).
    if (read.kind === 'unsupported-media-type') throw new DaaError(read.code, 415, read.detail);
    // A `:id` segment is one string (only `*wildcard` parameters are arrays); the verifier answers an unknown session.
    const sessionId = req.params.id;
    const result = await service.submitEvidence(typeof sessionId === 'string' ? sessionId : '', read);
    res.status(result.verdict === 'affirming' ? 200 : refusalStatus(result.reasons)).json(result);
  }));

  // ---- tenants, devices, reference values
  router.get('/tenants', route((req, res) => {
    query(req, emptyQuery);
    res.json(service.listTenants());
  }));
  router.post('/tenants', route(async (req, res) => {
    res.status(201).json(await service.createTenant(await body(req, createTenant)));
  }));
  router.get('/tenants/:tenant', route((req, res) => void res.json(service.tenant(param(req, 'tenant')))));
  router.put('/tenants/:tenant/policy', route(async (req, res) => {
    const { developmentMode } = await body(req, tenantPolicy);
    res.json(service.setDevelopmentMode(param(req, 'tenant'), developmentMode));
  }));
  router.get('/tenants/:tenant/devices', route((req, res) => void res.json(service.devices(param(req, 'tenant')))));
  router.post('/tenants/:tenant/devices', route(async (req, res) => {
    const { deviceId } = await body(req, claimDevice);
    res.status(201).json(service.claimDevice(param(req, 'tenant'), deviceId));
  }));
  router.get('/tenants/:tenant/reference-values', route((req, res) => {
    const values = service.referenceValues(param(req, 'tenant'));
    if (!values) throw new DaaError('reference-values-not-set', 404, `tenant ${param(req, 'tenant')} has no reference values`);
    res.json(values);
  }));
  router.put('/tenants/:tenant/reference-values', route(async (req, res) => {
    const document = await body(req, anyDocument, bodyLimit * 4);
    res.json(service.setReferenceValues(param(req, 'tenant'), document, 'request body'));
  }));

  // ---- the tenant CA (downloads open; see tenant-download.ts for what an anonymous caller may name)
  router.get('/tenants/:tenant/ca', route((req, res) => {
    const { thumbprint } = query(req, thumbprintQuery);
    return tenantDownload(service, param(req, 'tenant'), res, (tenant) => sendAs(res, PEM, service.tenantCaPem(tenant, thumbprint)));
  }));
  router.get('/tenants/:tenant/ca/chain', route((req, res) => {
    const { thumbprint } = query(req, thumbprintQuery);
    return tenantDownload(service, param(req, 'tenant'), res, (tenant) => sendAs(res, 'application/pkcs7-mime', service.tenantChainPkcs7(tenant, thumbprint)));
  }));
  router.get('/tenants/:tenant/ca/list', route((req, res) => void res.json(service.tenantCaList(param(req, 'tenant')))));
  router.get('/tenants/:tenant/ca/crl', route((req, res) => {
    const { thumbprint } = query(req, thumbprintQuery);
    return tenantDownload(service, param(req, 'tenant'), res, async (tenant) => sendAs(res, 'application/pkix-crl', await service.tenantCrlPem(tenant, thumbprint)));
  }));
  router.post('/tenants/:tenant/ca/rotate', route(async (req, res) => {
    const { activate } = await body(req, rotateCa);
    res.status(201).json(await service.rotateTenantCa(param(req, 'tenant'), activate ?? false));
  }));
  router.put('/tenants/:tenant/ca/:thumbprint', route(async (req, res) => {
    const thumbprint = param(req, 'thumbprint');
    if (!/^[0-9a-fA-F]{40}$/.test(thumbprint)) throw new DaaError('thumbprint-invalid', 400, 'a CA thumbprint is 40 hex characters (SHA-1)');
    const { status } = await body(req, caStatus);
    res.json(service.setTenantCaStatus(param(req, 'tenant'), thumbprint, status));
  }));

  // ---- devices
  router.get('/devices/:deviceId', route((req, res) => void res.json(service.device(param(req, 'deviceId')))));
  router.post('/devices/:deviceId/revoke', route(async (req, res) => {
    const { reason } = await body(req, revokeDevice);
    res.json(service.revokeDevice(param(req, 'deviceId'), reason));
  }));

  // ---- PKI, relying party, audit
  router.get('/pki/root', route((_req, res) => void res.type(PEM).send(service.rootPem())));
  router.get('/pki/crl', route(async (_req, res) => void res.type('application/pkix-crl').send(await service.intermediateCrlPem())));
  router.post('/verify', route(async (req, res) => {
    const request = await body(req, verifyChain, verifyLimit);
    const at = request.at === undefined ? undefined : new Date(request.at);
    if (at && Number.isNaN(at.getTime())) throw new DaaError('body-invalid', 400, `request body: at: '${request.at}' is not a date`);
    checkCertificateCount(request, verifyMaxCertificates);
    res.json(await relyingParty.check({ ...request, at }));
  }));
  router.get('/audit', route((req, res) => {
    const filter = query(req, auditQuery);
    res.json(service.audit({ ...filter, limit: filter.limit === undefined ? undefined : Number(filter.limit) }));
  }));

  router.use((req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not-found', message: `no DAA endpoint ${req.method ?? ''} ${req.path}` } });
  });
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body: answer } = errorAnswer(error);
    if (status >= 500 && status !== 503) log.error('request failed', { method: req.method, path: req.path, error: error instanceof Error ? error.stack : String(error) });
    if (res.headersSent) return void res.end();
    const retryAfter = error instanceof DaaError ? error.details.retryAfterSeconds : undefined;
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    res.status(status).json(answer);
  });
  return Object.assign(router, { close: () => relyingParty.close() });
}

/** Sets the type only with the body in hand: an error thrown while making it must go out as JSON, not as the download's type. */
function sendAs(res: Response, type: string, body: string): void {
  res.type(type).send(body);
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----/g;

/** At most `max` certificates in chainPem and trustAnchorsPem together, counted before anything is parsed. */
function checkCertificateCount(request: { chainPem: string; trustAnchorsPem?: string }, max: number): void {
  const inChain = request.chainPem.match(CERTIFICATE_BLOCK)?.length ?? 0;
  const inAnchors = request.trustAnchorsPem?.match(CERTIFICATE_BLOCK)?.length ?? 0;
  if (inChain + inAnchors <= max) return;
  const field = inChain > max ? 'chainPem' : 'trustAnchorsPem';
  throw new DaaError(
    'too-many-certificates',
    400,
    `request body: ${field}: chainPem and trustAnchorsPem hold ${inChain + inAnchors} certificates (${inChain} and ${inAnchors}); at most ${max} per request (a device chain is 3 to 4 deep)`,
    { field, limit: max, chainPem: inChain, trustAnchorsPem: inAnchors },
  );
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new DaaError('path-invalid', 400, `path parameter '${name}' is missing or too long`);
  return value;
}

function errorAnswer(error: unknown): { status: number; body: { error: { code: string; message: string; details?: Record<string, unknown> } } } {
  if (error instanceof DaaError) {
    return { status: error.status, body: { error: { code: error.code, message: error.message, ...(Object.keys(error.details).length ? { details: error.details } : {}) } } };
  }
  // Errors express itself raises for bad input (a malformed %-escape in the path) carry a 4xx status.
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { error: { code: 'bad-request', message: (error as Error).message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'the DAA service failed on this request; see its log' } } };
}
