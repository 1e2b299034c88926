import { expect } from 'chai';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { REFUSAL_REASONS, type RefusalCode } from '../../src/daa/refusal-reasons.js';
import { generateSigningKeyPair } from '../../src/pki/signing-key.js';
import type { EvidenceClaims } from '../../src/daa/protocol.js';
import { DaaFixture, referenceFor } from './helpers/daa-fixture.js';
import { b64url, randomGuid, rsaKey, signCompact, SimulatedDevice } from './helpers/simulated-device.js';
import { stateSnapshot } from './helpers/state-snapshot.js';

/**
 * Every way an attestation can be refused, one case per reason code: each is
 * refused with exactly its reason, issues nothing, and changes no state but the
 * session it consumed (and the audit log, which records it).
 */
interface Ready {
  sessionId: string;
  /** Sends the submission; resolves with the HTTP status and parsed body. */
  send: () => Promise<{ status: number; body: { verdict?: string; reasons?: Array<{ code: string; recoverable: boolean; detail: string }> } }>;
}

describe('local DAA service: every refusal has its own reason and changes nothing', function () {
  this.timeout(60_000);
  let daa: DaaFixture;
  let clockOffset = 0;

  before(async () => {
    daa = await DaaFixture.start({ now: () => Date.now() + clockOffset, sessionTtlMs: 60_000 });
  });
  after(() => daa.stop());

  const post = async (path: string, body: string, contentType = 'application/json') => {
    const response = await fetch(`${daa.server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: response.status, body: JSON.parse(await response.text()) };
  };
  const submit = (sessionId: string, evidence: unknown) => post(`/sessions/${sessionId}/evidence`, JSON.stringify({ evidence }));

  /** A claimed device with trusted software and an open session for it. */
  const setUp = async (tune?: (device: SimulatedDevice) => void) => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    tune?.(device);
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    return { device, tenant, session, claims: device.claims(session.nonce, tenant.id) };
  };
  const evidenceCase = async (build: (s: Awaited<ReturnType<typeof setUp>>) => string | Promise<string>, tune?: (device: SimulatedDevice) => void): Promise<Ready> => {
    const s = await setUp(tune);
    const evidence = await build(s);
    return { sessionId: s.session.sessionId, send: () => submit(s.session.sessionId, evidence) };
  };
  const attestOnce = async (device: SimulatedDevice, tenant: string, certificateKey = generateSigningKeyPair().publicKey) => {
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    const result = await daa.client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, tenant, certificateKey)));
    expect(result.verdict, JSON.stringify(result)).to.equal('affirming');
  };
  const without = (claims: EvidenceClaims, field: keyof EvidenceClaims) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== field));

  const cases: Array<[RefusalCode, string, () => Promise<Ready>]> = [
    ['nonce-missing', 'evidence without eat_nonce', () => evidenceCase(({ device, claims }) => device.sign(without(claims, 'eat_nonce')))],
    ['nonce-malformed', 'eat_nonce that is not base64url', () => evidenceCase(({ device, claims }) => device.sign({ ...claims, eat_nonce: 'not a nonce!' }))],
    ['nonce-length', 'a 16-byte nonce', () => evidenceCase(({ device, claims }) => device.sign({ ...claims, eat_nonce: randomBytes(16).toString('base64url') }))],
    ['session-unknown', 'a session that never existed', async () => {
      const s = await setUp();
      const id = randomUUID();
      return { sessionId: id, send: () => submit(id, s.device.sign(s.claims)) };
    }],
    ['session-expired', 'evidence after the session expired', async () => {
      const s = await setUp();
      const evidence = s.device.sign(s.claims);
      return {
        sessionId: s.session.sessionId,
        send: async () => {
          clockOffset += 61_000;
          try {
            return await submit(s.session.sessionId, evidence);
          } finally {
            clockOffset -= 61_000;
          }
        },
      };
    }],
    ['session-used', 'a second submission to one session', async () => {
      const s = await setUp();
      const first = await submit(s.session.sessionId, s.device.sign(s.claims));
      expect(first.body.verdict).to.equal('affirming');
      return { sessionId: s.session.sessionId, send: () => submit(s.session.sessionId, s.device.sign(s.device.claims(s.session.nonce, s.tenant.id))) };
    }],
    ['nonce-mismatch', "another session's nonce", () => evidenceCase(async ({ device, tenant }) => {
      const other = await daa.client.createSession({ deviceId: device.deviceId });
      return device.sign(device.claims(other.nonce, tenant.id));
    })],
    ['device-mismatch', 'evidence of another device in this device\'s session', () => evidenceCase(async ({ session }) => {
      const other = new SimulatedDevice();
      const otherTenant = await daa.tenantFor(other);
      return other.sign(other.claims(session.nonce, otherTenant.id));
    })],
    ['signature-invalid', 'signed by a key that is not the device\'s', () => evidenceCase(({ device, claims }) => device.sign(claims, { key: generateSigningKeyPair().privateKey }))],
    ['alg-none', "alg 'none', no signature", () => evidenceCase(({ claims }) => `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.`)],
    ['alg-symmetric', 'HS256 keyed with the device ID', () => evidenceCase(({ device, claims }) => {
      const input = `${b64url(JSON.stringify({ alg: 'HS256' }))}.${b64url(JSON.stringify(claims))}`;
      return `${input}.${createHmac('sha256', device.deviceId).update(input).digest('base64url')}`;
    })],
    ['alg-rsa', 'RS256, signed with an RSA key', () => evidenceCase(({ claims }) => signCompact(claims, { alg: 'RS256' }, rsaKey()))],
    ['alg-unsupported', 'ES384', () => evidenceCase(({ device, claims }) => device.sign(claims, { header: { alg: 'ES384' } }))],
    ['evidence-malformed', 'not a compact JWS', () => evidenceCase(() => 'this.is-not.a+token')],
    ['claims-malformed', 'bootcount as a string', () => evidenceCase(({ device, claims }) => device.sign({ ...claims, bootcount: 'three' }))],
    ['device-id-malformed', 'ueid of 64 characters', () => evidenceCase(({ device, claims }) => device.sign({ ...claims, ueid: device.deviceId.slice(0, 64) }))],
    ['certificate-key-not-p256', 'a P-384 certificate key', () => evidenceCase(({ device, session, tenant }) =>
      device.sign(device.claims(session.nonce, tenant.id, generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey)))],
    ['certificate-key-invalid', 'a point off the curve', () => evidenceCase(({ device, claims }) =>
      device.sign({ ...claims, cnf: { jwk: { ...claims.cnf.jwk, y: Buffer.alloc(32, 7).toString('base64url') } } }))],
    ['certificate-key-is-identity', 'the identity key as certificate key', () => evidenceCase(({ device, session, tenant }) =>
      device.sign(device.claims(session.nonce, tenant.id, device.identity.publicKey)))],
    ['certificate-key-reused', 'a key already certified', () => evidenceCase(async ({ device, session, tenant }) => {
      const key = generateSigningKeyPair().publicKey;
      await attestOnce(device, tenant.id, key);
      return device.sign(device.claims(session.nonce, tenant.id, key));
    })],
    ['device-unclaimed', 'a device no tenant claimed', async () => {
      const device = new SimulatedDevice();
      const session = await daa.client.createSession({ deviceId: device.deviceId });
      expect(session.tenant).to.equal(null);
      return { sessionId: session.sessionId, send: () => submit(session.sessionId, device.sign(device.claims(session.nonce, randomUUID()))) };
    }],
    ['tenant-mismatch', 'a device claimed to another tenant than the evidence names', () => evidenceCase(async ({ device, session }) => {
      const other = await daa.client.createTenant({ name: `other-${randomGuid().slice(0, 8)}` });
      return device.sign(device.claims(session.nonce, other.id));
    })],
    ['device-revoked', 'a revoked device', () => evidenceCase(async ({ device, claims }) => {
      await daa.client.revokeDevice(device.deviceId, 'stolen');
      return device.sign(claims);
    })],
    ['tenant-ca-revoked', 'a tenant whose CA is revoked', () => evidenceCase(async ({ device, claims, tenant }) => {
      await daa.client.setTenantCaStatus(tenant.id, tenant.activeCa!.thumbprint, 'Revoked');
      return device.sign(claims);
    })],
    ['tenant-ca-inactive', 'a tenant with no active CA', () => evidenceCase(async ({ device, claims, tenant }) => {
      await daa.client.setTenantCaStatus(tenant.id, tenant.activeCa!.thumbprint, 'Inactive');
      return device.sign(claims);
    })],
    ['bootcount-regressed', 'a boot counter lower than at the last attestation', () => evidenceCase(async ({ device, session, tenant }) => {
      await attestOnce(device, tenant.id);
      device.bootCount -= 1;
      return device.sign(device.claims(session.nonce, tenant.id));
    })],
    ['reference-values-missing', 'a tenant without reference values', async () => {
      const device = new SimulatedDevice();
      const tenant = await daa.client.createTenant({ name: `bare-${randomGuid().slice(0, 8)}` });
      await daa.client.claimDevice(tenant.id, device.deviceId);
      const session = await daa.client.createSession({ deviceId: device.deviceId });
      return { sessionId: session.sessionId, send: () => submit(session.sessionId, device.sign(device.claims(session.nonce, tenant.id))) };
    }],
    ['secure-boot-failed', 'oemboot false', () => evidenceCase(({ device, claims }) => device.sign({ ...claims, oemboot: false }))],
    ['image-unknown', 'an image hash the tenant does not know', () => evidenceCase(({ device, claims }) => device.sign(claims), (d) => (d.images[1]!.bytes = randomBytes(512)))],
    ['image-untrusted', 'an image the tenant marked untrusted', () => evidenceCase(async ({ device, claims, tenant }) => {
      const reference = referenceFor(device);
      reference.components[1]!.untrustedImageIds = [device.images[1]!.imageId];
      await daa.client.setReferenceValues(tenant.id, reference);
      return device.sign(claims);
    })],
    ['component-unknown', 'a component not in the reference values', () => evidenceCase(({ device, claims }) => device.sign(claims), (d) => {
      d.images.push({ imageType: 10, componentId: randomGuid(), imageId: randomGuid(), securityVersion: 1, bytes: randomBytes(64) });
    })],
    ['component-missing', 'a required component not measured', () => evidenceCase(({ device, claims }) => device.sign(claims), (d) => void d.images.pop())],
    ['security-version-below-floor', 'a security version below the floor', () => evidenceCase(async ({ device, claims, tenant }) => {
      const reference = referenceFor(device);
      reference.components[1]!.minimumSecurityVersion = 3;
      await daa.client.setReferenceValues(tenant.id, reference);
      return device.sign(claims);
    })],
    ['development-mode-forbidden', 'development mode where the policy forbids it', () => evidenceCase(async ({ device, session, tenant }) => {
      await daa.client.setDevelopmentMode(tenant.id, 'forbid');
      device.developmentMode = true;
      return device.sign(device.claims(session.nonce, tenant.id));
    })],
    ['body-too-large', 'a 1 MiB body', async () => {
      const s = await setUp();
      return { sessionId: s.session.sessionId, send: () => post(`/sessions/${s.session.sessionId}/evidence`, JSON.stringify({ evidence: 'x'.repeat(1024 * 1024) })) };
    }],
    ['body-malformed', 'a body that is not JSON', async () => {
      const s = await setUp();
      return { sessionId: s.session.sessionId, send: () => post(`/sessions/${s.session.sessionId}/evidence`, '{"evidence": ') };
    }],
  ];

  it('covers every refusal code exactly once', () => {
    expect(cases.map(([code]) => code).sort()).to.deep.equal(Object.keys(REFUSAL_REASONS).sort());
  });

  for (const [code, what, prepare] of cases) {
    it(`${code}: ${what}`, async () => {
      const ready = await prepare();
      const before = stateSnapshot(daa.dir);
      const auditBefore = (await daa.client.audit({ limit: 1 }))[0]?.id ?? 0;
      const { status, body } = await ready.send();
      expect(body.verdict, JSON.stringify(body)).to.equal('refused');
      expect(body.reasons!.map((r) => r.code), JSON.stringify(body.reasons)).to.deep.equal([code]);
      expect(body.reasons![0]!.recoverable).to.equal(REFUSAL_REASONS[code].recoverable);
      expect(status).to.equal(REFUSAL_REASONS[code].status);
      expect(stateSnapshot(daa.dir), 'nothing but the session changed').to.deep.equal(before);
      if (code !== 'session-unknown') expect(daa.service.verifier.sessionUsed(ready.sessionId), 'session consumed').to.equal(true);
      const [entry] = await daa.client.audit({ limit: 1 });
      expect(entry!.id).to.be.greaterThan(auditBefore);
      expect(entry!.verdict).to.equal('refused');
      expect(entry!.reasons.map((r) => r.code)).to.deep.equal([code]);
    });
  }
});
