import { createHash } from 'node:crypto';
import { deviceIdentityKey } from './device-identity-key.js';
import { NONCE_BYTES, type EvidenceClaims } from './protocol.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';
import { compileSchema, formatProblems } from './schema-check.js';
import { verifyOnThreadpool } from './threadpool-ecdsa.js';

/**
 * Reads and authenticates an evidence token (compact JWS, RFC 7515). The
 * algorithm is decided before anything else is trusted: only ES256, so neither
 * `none`, nor a MAC keyed with public data (HS256), nor RSA. The key is the one
 * the device ID names. Verified with node:crypto's one-shot on the threadpool
 * (threadpool-ecdsa.ts) rather than through jose: a fraction of the event
 * loop's time, and it keeps every failure a distinct reason.
 */
export type TokenCheck = { ok: true; claims: EvidenceClaims; sha256: Buffer; nonce: Buffer } | { ok: false; reason: RefusalReason };

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const DEVICE_ID = /^[0-9a-f]{128}$/;

const CLAIMS_SCHEMA = {
  type: 'object',
  required: ['eat_nonce', 'ueid', 'bootcount', 'uptime', 'dbgstat', 'oemboot', 'measurements', 'tenant', 'cnf'],
  properties: {
    eat_nonce: { type: 'string' },
    ueid: { type: 'string' },
    bootcount: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    uptime: { type: 'number', minimum: 0 },
    dbgstat: { type: 'integer', minimum: 0, maximum: 4 },
    oemboot: { type: 'boolean' },
    tenant: { type: 'string', maxLength: 200 },
    iat: { type: 'number' },
    measurements: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        required: ['imageType', 'componentId', 'imageId', 'securityVersion', 'sha256'],
        properties: {
          imageType: { type: 'integer', minimum: 0, maximum: 65535 },
          componentId: { type: 'string', maxLength: 64 },
          imageId: { type: 'string', maxLength: 64 },
          securityVersion: { type: 'integer', minimum: 0, maximum: 0xffffffff },
          sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
        },
      },
    },
    cnf: {
      type: 'object',
      required: ['jwk'],
      properties: { jwk: { type: 'object', required: ['kty'], properties: { kty: { type: 'string', maxLength: 16 } } } },
    },
  },
} as const;

const checkClaims = compileSchema<EvidenceClaims>(CLAIMS_SCHEMA);

/** Resolves once the signature is checked (on the threadpool, threadpool-ecdsa.ts); checks before it are made first, in line. */
export async function checkEvidenceToken(token: string): Promise<TokenCheck> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) {
    return fail('evidence-malformed', 'expected three base64url parts separated by dots (compact JWS)');
  }
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeHeader(headerPart);
  if (!header) return fail('evidence-malformed', 'the protected header is not a JSON object');
  const alg = header.alg;
  if (typeof alg !== 'string') return fail('evidence-malformed', "the protected header has no 'alg'");
  const algorithmProblem = checkAlgorithm(alg);
  if (algorithmProblem) return { ok: false, reason: algorithmProblem };
  if (header.crit !== undefined) return fail('evidence-malformed', "the header has 'crit' extensions this verifier does not understand");
  const payload = decodeJsonObject(payloadPart);
  if (!payload) return fail('evidence-malformed', 'the claims are not a JSON object');

  const ueid = payload.ueid;
  if (typeof ueid !== 'string' || !DEVICE_ID.test(ueid)) return fail('device-id-malformed', 'ueid must be the device ID: 128 lower-case hex characters');
  const identityKey = deviceIdentityKey(ueid);
  if (!identityKey) return fail('device-id-malformed', 'ueid is not a point on the P-256 curve');
  const signature = Buffer.from(signaturePart, 'base64url');
  // Every part passed the base64url check: the token is ASCII, one buffer serves the signature and the digest.
  const bytes = Buffer.from(token, 'latin1');
  const signingInput = bytes.subarray(0, headerPart.length + 1 + payloadPart.length);
  if (signature.length !== 64 || !(await verifyOnThreadpool(signingInput, identityKey, signature, 'ieee-p1363'))) {
    return fail('signature-invalid', `the ES256 signature does not verify with the key of device ${ueid.slice(0, 16)}...`);
  }

  const nonce = payload.eat_nonce;
  if (nonce === undefined) return fail('nonce-missing');
  if (typeof nonce !== 'string' || !BASE64URL.test(nonce) || nonce.length === 0) return fail('nonce-malformed', 'eat_nonce must be base64url text');
  const nonceBytes = Buffer.from(nonce, 'base64url');
  if (nonceBytes.length !== NONCE_BYTES) return fail('nonce-length', `eat_nonce is ${nonceBytes.length} bytes; the session's nonce is ${NONCE_BYTES}`);

  const claims = checkClaims(payload);
  if (!claims.ok) return fail('claims-malformed', formatProblems(claims.problems));
  return { ok: true, claims: claims.value, nonce: nonceBytes, sha256: createHash('sha256').update(bytes).digest() };
}

function checkAlgorithm(alg: string): RefusalReason | undefined {
  if (alg === 'ES256') return undefined;
  if (alg.toLowerCase() === 'none') return refusal('alg-none');
  if (/^HS\d+$/i.test(alg)) return refusal('alg-symmetric', `alg ${alg} is a MAC; evidence must be signed ES256 by the device`);
  if (/^(RS|PS)\d+$/i.test(alg)) return refusal('alg-rsa', `alg ${alg} is RSA; evidence must be signed ES256 by the device`);
  return refusal('alg-unsupported', `alg ${alg.slice(0, 32)} is not ES256`);
}

/** Devices send the same protected header every time: the last one decoded is kept (it is only read). */
let lastHeader: { part: string; value: Record<string, unknown> | undefined } | undefined;

function decodeHeader(part: string): Record<string, unknown> | undefined {
  if (lastHeader?.part !== part) lastHeader = { part, value: decodeJsonObject(part) };
  return lastHeader.value;
}

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function fail(code: Parameters<typeof refusal>[0], detail?: string): TokenCheck {
  return { ok: false, reason: refusal(code, detail) };
}
