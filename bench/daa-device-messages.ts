import type { AttestationResult, SessionGrant } from '../src/daa/protocol.js';

/** What the bench's devices (daa-devices.ts) ask the service side for, and what they get back. */
export type DeviceRequest = { kind: 'session'; deviceId: string } | { kind: 'evidence'; sessionId: string; evidence: string };

/** The grant, or the result's verdict with the certificate or the refusal codes. */
export type DeviceAnswer = SessionGrant | { verdict: AttestationResult['verdict']; certificatePem?: string; refusals?: string[] };

/** The verdict and the certificate, or the refusal codes: what a device keeps of a result. */
export function deviceAnswer(result: AttestationResult): DeviceAnswer {
  return result.verdict === 'affirming' ? { verdict: result.verdict, certificatePem: result.certificatePem } : { verdict: result.verdict, refusals: result.reasons.map((r) => r.code) };
}
