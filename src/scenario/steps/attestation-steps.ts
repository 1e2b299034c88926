import type { AttestationOutcome } from '../../device/board.js';
import { RigError } from '../../util/failure.js';
import { defineStep, type StepContext } from '../step-type.js';

/**
 * Device attestation as a relying party sees it: make the board attest now,
 * expect an affirming result (or a given refusal), and check the certificate it
 * got against the local DAA service's chain, for this device.
 */
interface BoardAttestation extends AttestationOutcome {
  verdict?: 'affirming' | 'refused' | 'failed';
  error?: string;
  measurements?: Array<{ componentId: string; sha256: string; imageType: number }>;
  deviceAuth?: { ready: boolean; certificatePem: string | null; chainPem: string | null; expiresAt: number | null };
}

const LAST = new WeakMap<StepContext['run'], BoardAttestation>();

export function lastAttestation(context: StepContext): BoardAttestation {
  const last = LAST.get(context.run);
  if (!last) throw new RigError('infra-error', 'no-attestation', 'no attest step ran earlier in this run');
  return last;
}

export const attestStep = defineStep<{ expect?: string; ifClaimed?: boolean }>({
  type: 'attest',
  needsPower: true,
  description:
    "Make the board attest now; expect 'affirming' (default) or a refusal reason code such as image-untrusted. With ifClaimed: true, a board the rig has not claimed to a DAA tenant makes the step not applicable",
  schema: { properties: { expect: { type: 'string', minLength: 1 }, ifClaimed: { type: 'boolean' } } },
  defaultTimeoutMs: 60_000,
  run: async ({ expect, ifClaimed }, context) => {
    if (ifClaimed && !context.board.identity.tenant) throw new RigError('not-applicable', 'board-not-claimed', `board ${context.board.identity.id} is not claimed to a DAA tenant (no tenant in the rig)`);
    const outcome = (await context.board.attest({ signal: context.signal, timeoutMs: context.remainingMs() })) as BoardAttestation;
    LAST.set(context.run, outcome);
    const wanted = expect ?? 'affirming';
    // One reason per refused component: say each code once.
    const codes = [...new Set((outcome.reasons ?? []).map((r) => r.code))];
    if (outcome.verdict === 'failed') throw new RigError('infra-error', 'attestation-failed', `attestation did not complete: ${outcome.error ?? 'unknown'}`);
    if (wanted === 'affirming') {
      if (outcome.verdict !== 'affirming') throw new RigError('test-failed', 'attestation-refused', `attestation refused: ${codes.join(', ') || 'no reason given'}`);
      context.measure('device authentication ready', outcome.deviceAuth?.ready === true, { equals: true });
      return;
    }
    if (outcome.verdict === 'affirming') throw new RigError('test-failed', 'attestation-affirmed', `attestation was affirmed; expected a refusal with ${wanted}`);
    if (!codes.includes(wanted)) throw new RigError('test-failed', 'wrong-refusal', `attestation refused with ${codes.join(', ')}, expected ${wanted}`);
    context.measure('device authentication ready', outcome.deviceAuth?.ready === true, { equals: false });
  },
});

export const verifyCertificateStep = defineStep<{ minValidityHours?: number }>({
  type: 'verify-certificate',
  description: "Check the certificate of the last attestation as a relying party: valid now, issued for this device, chained to its tenant's CA",
  schema: { properties: { minValidityHours: { type: 'number', minimum: 0 } } },
  defaultTimeoutMs: 30_000,
  run: async ({ minValidityHours }, context) => {
    const daa = context.run.services.daa;
    if (!daa) throw new RigError('not-applicable', 'no-daa', 'this rig has no DAA service to check certificates against');
    const auth = lastAttestation(context).deviceAuth;
    if (!auth?.certificatePem) throw new RigError('test-failed', 'no-certificate', 'the board holds no device certificate');
    const verdict = await daa.verifyChain(`${auth.certificatePem.trim()}\n${auth.chainPem ?? ''}`);
    if (!verdict.valid) throw new RigError('test-failed', 'certificate-invalid', `certificate refused by the relying-party check: ${verdict.problems.join('; ')}`);
    const deviceId = context.board.identity.deviceId;
    context.measure('certificate device', verdict.deviceId ?? 'none', { equals: deviceId ?? 'unknown' });
    const notAfter = (verdict as { notAfter?: string | null }).notAfter;
    if (notAfter) {
      const hours = (Date.parse(notAfter) - Date.now()) / 3_600_000;
      context.measure('certificate validity left', Math.round(hours * 10) / 10, { unit: 'h', min: minValidityHours ?? 23 });
    }
  },
});

export const setOsTrustStep = defineStep<{ trusted: boolean }>({
  type: 'set-os-trust',
  description: "Mark the OS the board last attested with as trusted or untrusted in its tenant's reference values",
  schema: { required: ['trusted'], properties: { trusted: { type: 'boolean' } } },
  defaultTimeoutMs: 30_000,
  run: async ({ trusted }, context) => {
    const daa = context.run.services.daa;
    if (!daa?.setImageTrust) throw new RigError('not-applicable', 'no-daa', 'this rig has no DAA service');
    const tenant = context.board.identity.tenant;
    if (!tenant) throw new RigError('not-applicable', 'no-tenant', `board ${context.board.identity.id} is not claimed to a tenant`);
    const measurements = lastAttestation(context).measurements ?? [];
    if (!measurements.length) throw new RigError('infra-error', 'no-measurements', 'the last attestation carried no measurements');
    for (const m of measurements) await daa.setImageTrust(tenant, m.componentId, m.sha256, trusted);
  },
});
