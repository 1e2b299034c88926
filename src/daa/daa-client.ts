import { RigError } from '../util/failure.js';
import type { AuditEntry, AuditFilter } from './audit-log.js';
import { DaaError } from './daa-error.js';
import type { DeviceInfo, TenantCaEntry, TenantInfo } from './daa-service.js';
import type { AuthorityStatus } from './local-pki.js';
import { loopbackBaseUrl } from './loopback-url.js';
import type { AttestationResult, SessionGrant, SessionRequest } from './protocol.js';
import type { ReferenceValues } from './reference-values.js';
import type { RelyingPartyVerdict } from './relying-party.js';
import type { DevelopmentModePolicy } from './tenant-registry.js';

/**
 * A running DAA service over HTTP (see http/daa-router.ts), for the CLI's
 * `--service` mode, tests and the benchmark. Every request has a timeout and
 * honours an AbortSignal; service errors come back as DaaError with the
 * service's code and status.
 */
export interface DaaClientOptions {
  /** Per request; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Sent as `Authorization: Bearer`: the daemon's /daa wants a rig token for everything but the device-facing routes. */
  token?: string;
}

export class DaaClient {
  readonly baseUrl: string;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #headers: Record<string, string>;

  constructor(baseUrl: string, options: DaaClientOptions = {}) {
    this.baseUrl = loopbackBaseUrl(baseUrl, 'DAA service URL');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#signal = options.signal;
    this.#headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
  }

  listTenants(): Promise<TenantInfo[]> {
    return this.#json('GET', '/tenants');
  }

  createTenant(params: { name: string; id?: string; developmentMode?: DevelopmentModePolicy }): Promise<TenantInfo> {
    return this.#json('POST', '/tenants', params);
  }

  tenant(ref: string): Promise<TenantInfo> {
    return this.#json('GET', `/tenants/${enc(ref)}`);
  }

  setDevelopmentMode(ref: string, developmentMode: DevelopmentModePolicy): Promise<TenantInfo> {
    return this.#json('PUT', `/tenants/${enc(ref)}/policy`, { developmentMode });
  }

  claimDevice(ref: string, deviceId: string): Promise<DeviceInfo> {
    return this.#json('POST', `/tenants/${enc(ref)}/devices`, { deviceId });
  }

  devices(ref: string): Promise<DeviceInfo[]> {
    return this.#json('GET', `/tenants/${enc(ref)}/devices`);
  }

  revokeDevice(deviceId: string, reason?: string): Promise<DeviceInfo> {
    return this.#json('POST', `/devices/${enc(deviceId)}/revoke`, reason === undefined ? {} : { reason });
  }

  device(deviceId: string): Promise<DeviceInfo> {
    return this.#json('GET', `/devices/${enc(deviceId)}`);
  }

  /** `source` is not sent: the service names the request body in its errors. */
  setReferenceValues(ref: string, document: unknown): Promise<ReferenceValues> {
    return this.#json('PUT', `/tenants/${enc(ref)}/reference-values`, document);
  }

  referenceValues(ref: string): Promise<ReferenceValues> {
    return this.#json('GET', `/tenants/${enc(ref)}/reference-values`);
  }

  tenantCaList(ref: string): Promise<TenantCaEntry[]> {
    return this.#json('GET', `/tenants/${enc(ref)}/ca/list`);
  }

  tenantCaPem(ref: string, thumbprint?: string): Promise<string> {
    return this.#text(`/tenants/${enc(ref)}/ca${thumbprintQuery(thumbprint)}`);
  }

  tenantChainPkcs7(ref: string, thumbprint?: string): Promise<string> {
    return this.#text(`/tenants/${enc(ref)}/ca/chain${thumbprintQuery(thumbprint)}`);
  }

  tenantCrlPem(ref: string, thumbprint?: string): Promise<string> {
    return this.#text(`/tenants/${enc(ref)}/ca/crl${thumbprintQuery(thumbprint)}`);
  }

  rootPem(): Promise<string> {
    return this.#text('/pki/root');
  }

  rotateTenantCa(ref: string, activate: boolean): Promise<TenantCaEntry> {
    return this.#json('POST', `/tenants/${enc(ref)}/ca/rotate`, { activate });
  }

  setTenantCaStatus(ref: string, thumbprint: string, status: AuthorityStatus): Promise<TenantCaEntry> {
    return this.#json('PUT', `/tenants/${enc(ref)}/ca/${enc(thumbprint)}`, { status });
  }

  verifyPresentedChain(request: { chainPem: string; expectedDeviceId?: string; at?: Date; trustAnchorsPem?: string }): Promise<RelyingPartyVerdict> {
    return this.#json('POST', '/verify', { ...request, at: request.at?.toISOString() });
  }

  audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return this.#json('GET', `/audit${query.size ? `?${query.toString()}` : ''}`);
  }

  createSession(request: SessionRequest = {}): Promise<SessionGrant> {
    return this.#json('POST', '/sessions', request);
  }

  /** The attestation result, affirming or refused (a refusal is an answer, not an error). */
  async submitEvidence(sessionId: string, evidence: string): Promise<AttestationResult> {
    const response = await this.#fetch('POST', `/sessions/${enc(sessionId)}/evidence`, { evidence });
    const body = (await this.#read(response, 'json')) as AttestationResult | { error?: unknown };
    if ('verdict' in body) return body;
    throw errorFrom(response.status, body);
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#fetch(method, path, body);
    const answer = await this.#read(response, 'json');
    if (!response.ok) throw errorFrom(response.status, answer);
    return answer as T;
  }

  async #text(path: string): Promise<string> {
    const response = await this.#fetch('GET', path);
    if (!response.ok) throw errorFrom(response.status, await this.#read(response, 'json'));
    return (await this.#read(response, 'text')) as string;
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const signals = [AbortSignal.timeout(this.#timeoutMs), ...(this.#signal ? [this.#signal] : [])];
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        signal: AbortSignal.any(signals),
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw transportError(error, `${method} ${this.baseUrl}${path}`, this.#timeoutMs);
    }
  }

  async #read(response: Response, as: 'json' | 'text'): Promise<unknown> {
    try {
      const text = await response.text();
      if (as === 'text') return text;
      return text === '' ? {} : (JSON.parse(text) as unknown);
    } catch (error) {
      throw transportError(error, `reading the answer of ${this.baseUrl}`, this.#timeoutMs);
    }
  }
}

function errorFrom(status: number, body: unknown): DaaError {
  const error = (body as { error?: { code?: unknown; message?: unknown } })?.error;
  const code = typeof error?.code === 'string' ? error.code : `http-${status}`;
  const message = typeof error?.message === 'string' ? error.message : `the DAA service answered ${status}`;
  return new DaaError(code, status, message);
}

function transportError(error: unknown, what: string, timeoutMs: number): RigError {
  const name = (error as Error)?.name;
  if (name === 'TimeoutError') return new RigError('timeout', 'daa-timeout', `${what}: no answer within ${timeoutMs} ms`);
  if (name === 'AbortError') return new RigError('cancelled', 'cancelled', `${what}: cancelled`);
  const cause = (error as { cause?: { message?: string } })?.cause?.message ?? (error as Error)?.message ?? String(error);
  return new RigError('infra-error', 'daa-unreachable', `${what}: ${cause}`, {}, { cause: error });
}

const enc = encodeURIComponent;
const thumbprintQuery = (thumbprint?: string) => (thumbprint ? `?thumbprint=${enc(thumbprint)}` : '');
