import { createHash, sign, type KeyObject } from 'node:crypto';
import { checkBoundKey } from '../../../src/daa/bound-key.js';
import { checkEvidenceToken } from '../../../src/daa/evidence-token.js';
import { appraiseMeasurements } from '../../../src/daa/measurement-appraisal.js';
import { REFUSAL_REASONS, type RefusalReason } from '../../../src/daa/refusal-reasons.js';
import { validateReferenceValues, type ReferenceValues } from '../../../src/daa/reference-values.js';
import { buildEvidenceClaims, signEvidence } from '../../../src/emulator/attestation/evidence-builder.js';
import { publicKeyToPoint } from '../../../src/pki/signing-key.js';
import { deterministicEs256, fixedP256KeyPair } from '../fixed-keys.js';
import { mutateText, wordsOf } from '../mutate.js';
import { Random } from '../random.js';
import { InvariantViolation, type FuzzTarget } from '../target.js';

/**
 * DAA evidence: checkEvidenceToken (compact JWS, algorithm, ueid, ES256 signature,
 * nonce, claims schema), then what the verifier does next with accepted claims
 * (checkBoundKey, appraiseMeasurements). Seeds are tokens built and signed by the
 * emulator's own device side (evidence-builder.ts) with fixed keys; their ES256
 * signature is then recomputed with an RFC 6979 nonce (the same signature every
 * run, where ECDSA's random nonce would change the seeds from run to run).
 *
 * checkEvidenceToken never throws by contract: bad evidence comes back as
 * { ok: false, reason } with a known refusal code (counted here as a rejection);
 * any throw or rejection of its promise, or an unknown code, is a crash.
 *
 * A third of the inputs are the token mutated as text (they rarely get past the
 * signature); the rest mutate the header or the claims JSON and are signed again
 * with the device's identity key, so the checks after the signature see them.
 * Those are signed by Node (random nonce: RFC 6979 in BigInt is far too slow for
 * the loop), so they differ from run to run in their signature part only; the
 * saved finding is the exact input.
 */

export class EvidenceRefused extends Error {
  constructor(readonly reason: RefusalReason) {
    super(`${reason.code}: ${reason.detail}`);
    this.name = 'EvidenceRefused';
  }
}

const NOW = Date.parse('2024-05-01T12:00:00Z');
const OS_COMPONENT = '5e8c0c1e-0009-4a61-9d4b-000000000009';
const LOADER_COMPONENT = '5e8c0c1e-0005-4a61-9d4b-000000000005';

interface EvidenceSeeds {
  tokens: string[];
  identityKey: KeyObject;
  reference: ReferenceValues;
}

async function evidenceSeeds(): Promise<EvidenceSeeds> {
  const identity = fixedP256KeyPair('evidence identity');
  const deviceId = publicKeyToPoint(identity.publicKey).toString('hex');
  const random = new Random(0xe71d);
  const images = [
    { imageType: 5, componentId: LOADER_COMPONENT, imageId: '61111111-2222-4333-8444-555555555555', securityVersion: 2, bytes: random.bytes(256) },
    { imageType: 9, componentId: OS_COMPONENT, imageId: '71111111-2222-4333-8444-555555555555', securityVersion: 2, bytes: random.bytes(512) },
  ];
  const nonce = createHash('sha256').update('fuzz nonce').digest().toString('base64url');
  const base = { nonce, deviceId, tenant: 'fuzz-tenant', bootCount: 3, uptimeSeconds: 12, certificateKey: fixedP256KeyPair('evidence certificate').publicKey, now: NOW };
  const built = [
    await signEvidence(buildEvidenceClaims({ ...base, developmentMode: false, images }), identity.privateKey),
    await signEvidence(buildEvidenceClaims({ ...base, developmentMode: true, images: images.slice(1), bootCount: 0 }), identity.privateKey),
  ];
  const tokens = built.map((token) => {
    const signingInput = token.slice(0, token.lastIndexOf('.'));
    return `${signingInput}.${deterministicEs256(identity.d, Buffer.from(signingInput)).toString('base64url')}`;
  });
  const reference = validateReferenceValues({
    allowUnlistedComponents: false,
    components: [
      { componentId: OS_COMPONENT, name: 'OS', required: true, minimumSecurityVersion: 2, trustedImageIds: [images[1]!.imageId], untrustedImageHashes: ['00'.repeat(32)] },
      { componentId: LOADER_COMPONENT, required: false },
    ],
  });
  return { tokens, identityKey: identity.privateKey, reference };
}

const TOKEN_TOKENS = ['.', '..', '=', '+', '/', '-', '_', 'e30', 'eyJhbGciOiJub25lIn0', 'eyJhbGciOiJFUzI1NiJ9', 'AAAA', '\u00e9', ' ', '%'];
const JSON_TOKENS = [
  'null', 'true', 'false', '0', '-0', '-1', '1e999', '4', '5', '65535', '65536', '4294967295', '4294967296', '9007199254740992', '1.5',
  '""', '"\\u0000"', '"\\ud800"', '[]', '{}', '[{}]', '{"__proto__":{}}', '"__proto__"', '"constructor"', ',', ':', '{', '}', '[', ']', '"',
  '"ES256"', '"none"', '"HS256"', '"RS256"', '"PS512"', '"ES384"', '"EdDSA"', '"crit"', '"alg"', '"typ"', '"kid"', '"jwk"', '"d"',
  '"EC"', '"P-256"', '"OKP"', '"RSA"', '"x"', '"y"', `"${'A'.repeat(43)}"`, `"${'_'.repeat(43)}"`, `"${'0'.repeat(64)}"`, `"${'f'.repeat(128)}"`,
  `"${'a'.repeat(300)}"`,
];

function part(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

function decodePart(value: string): string {
  return Buffer.from(value, 'base64url').toString('utf8');
}

function signed(header: string, payload: string, key: KeyObject): string {
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

export const evidenceTarget: FuzzTarget = {
  name: 'evidence',
  async prepare() {
    const seeds = await evidenceSeeds();
    const decoded = seeds.tokens.map((token) => {
      const [header = '', payload = ''] = token.split('.');
      return { header: decodePart(header), payload: decodePart(payload) };
    });
    const headers = decoded.map((d) => d.header);
    const payloads = decoded.map((d) => d.payload);
    const jsonDictionary = [...JSON_TOKENS, ...wordsOf(payloads).map((w) => JSON.stringify(w))];
    const codes = new Set(Object.keys(REFUSAL_REASONS));
    return {
      seedCount: seeds.tokens.length,
      generate: (rng) => {
        const roll = rng.below(12);
        if (roll < 4) return Buffer.from(mutateText(rng, rng.pick(seeds.tokens), seeds.tokens, { dictionary: TOKEN_TOKENS, maxStack: 3 }), 'utf8');
        const seed = rng.pick(decoded);
        const header = roll < 6 ? mutateText(rng, seed.header, headers, { dictionary: JSON_TOKENS }) : seed.header;
        const payload = roll >= 5 ? mutateText(rng, seed.payload, payloads, { dictionary: jsonDictionary }) : seed.payload;
        return Buffer.from(signed(header, payload, seeds.identityKey), 'utf8');
      },
      run: async (input) => {
        const check = await checkEvidenceToken(input.toString('utf8'));
        if (!check.ok) {
          if (!codes.has(check.reason?.code)) throw new InvariantViolation(`refused with an unknown reason ${JSON.stringify(check.reason)}`);
          throw new EvidenceRefused(check.reason);
        }
        const { claims } = check;
        checkBoundKey(claims.cnf.jwk, claims.ueid);
        appraiseMeasurements(claims.measurements, seeds.reference);
      },
      isRejection: (error) => error instanceof EvidenceRefused,
    };
  },
};
