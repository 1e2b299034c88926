import { DaaError } from '../../daa/daa-error.js';
import type { AttestationResult, SessionGrant } from '../../daa/protocol.js';
import { RigError } from '../../util/failure.js';
import { loopbackHttpUrl } from '../../util/loopback-address.js';

/**
 * The device's side of the DAA wire protocol (src/daa/protocol.ts): ask for a
 * session, send the evidence. Loopback only; every request has a timeout and
 * honours the caller's AbortSignal.
 */
export class DaaConnection {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.baseUrl = loopbackHttpUrl(baseUrl, 'DAA service URL');
  }

  async openSession(deviceId: string, signal?: AbortSignal): Promise<SessionGrant> {
    const { status, body } = await this.#post('/sessions', { deviceId }, signal);
    if (status !== 201) throw serviceError(status, body, 'opening an attestation session');
    const grant = body as Partial<SessionGrant>;
    if (typeof grant.sessionId !== 'string' || typeof grant.nonce !== 'string') {
      throw new RigError('infra-error', 'daa-protocol-error', 'the DAA service answered a session without sessionId and nonce');
    }
    return grant as SessionGrant;
  }

  async sendEvidence(sessionId: string, evidence: string, signal?: AbortSignal): Promise<AttestationResult> {
    const { status, body } = await this.#post(`/sessions/${encodeURIComponent(sessionId)}/evidence`, { evidence }, signal);
    const verdict = (body as { verdict?: unknown }).verdict;
    if (verdict === 'affirming' || verdict === 'refused') return body as AttestationResult;
    throw serviceError(status, body, 'sending evidence');
  }

  async #post(path: string, payload: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    const signals = [AbortSignal.timeout(this.timeoutMs), ...(signal ? [signal] : [])];
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.any(signals),
      });
      const text = await response.text();
      let body: unknown = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        throw new RigError('infra-error', 'daa-protocol-error', `the DAA service answered ${response.status} with a body that is not JSON`);
      }
      return { status: response.status, body: body ?? {} };
    } catch (error) {
      if (error instanceof RigError) throw error;
      const name = (error as Error)?.name;
      if (name === 'TimeoutError') throw new RigError('timeout', 'daa-timeout', `DAA service at ${this.baseUrl}: no answer within ${this.timeoutMs} ms`);
      if (name === 'AbortError') throw new RigError('cancelled', 'cancelled', 'attestation cancelled');
      const cause = (error as { cause?: { message?: string } })?.cause?.message ?? (error as Error)?.message;
      throw new RigError('infra-error', 'daa-unreachable', `DAA service at ${this.baseUrl}: ${cause}`, {}, { cause: error });
    }
  }
}

function serviceError(status: number, body: unknown, what: string): DaaError {
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  return new DaaError(typeof error?.code === 'string' ? error.code : `http-${status}`, status, `${what}: ${typeof error?.message === 'string' ? error.message : `the DAA service answered ${status}`}`);
}
