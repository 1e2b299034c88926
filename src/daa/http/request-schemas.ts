/**
 * JSON Schemas of the DAA service's request bodies and query strings. Every
 * field is bounded, so nothing a client sends makes the service do unbounded
 * work. Reference values have their own schema (reference-values.ts).
 */
const DEVICE_ID = { type: 'string', pattern: '^[0-9a-fA-F]{128}$' } as const;
const THUMBPRINT = { type: 'string', pattern: '^[0-9a-fA-F]{40}$' } as const;
const POLICY = { enum: ['allow', 'forbid'] } as const;

export const SESSION_REQUEST = {
  type: 'object',
  additionalProperties: false,
  properties: { deviceId: DEVICE_ID },
} as const;

export const CREATE_TENANT = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, id: { type: 'string', maxLength: 36 }, developmentMode: POLICY },
} as const;

export const TENANT_POLICY = {
  type: 'object',
  additionalProperties: false,
  required: ['developmentMode'],
  properties: { developmentMode: POLICY },
} as const;

export const CLAIM_DEVICE = {
  type: 'object',
  additionalProperties: false,
  required: ['deviceId'],
  properties: { deviceId: DEVICE_ID },
} as const;

export const REVOKE_DEVICE = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 500 } },
} as const;

export const ROTATE_CA = {
  type: 'object',
  additionalProperties: false,
  properties: { activate: { type: 'boolean' } },
} as const;

export const CA_STATUS = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { enum: ['Active', 'Inactive', 'Revoked'] } },
} as const;

export const VERIFY_CHAIN = {
  type: 'object',
  additionalProperties: false,
  required: ['chainPem'],
  properties: {
    // The body is at most 64 KiB anyway (daa-router.ts), and at most 10 certificates.
    chainPem: { type: 'string', minLength: 1, maxLength: 64 * 1024 },
    expectedDeviceId: DEVICE_ID,
    at: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$', maxLength: 40 },
    trustAnchorsPem: { type: 'string', minLength: 1, maxLength: 64 * 1024 },
  },
} as const;

export const THUMBPRINT_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { thumbprint: THUMBPRINT },
} as const;

export const AUDIT_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    deviceId: DEVICE_ID,
    tenant: { type: 'string', maxLength: 100 },
    verdict: { enum: ['affirming', 'refused'] },
    limit: { type: 'string', pattern: '^[0-9]{1,5}$' },
  },
} as const;

export const EMPTY_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;
