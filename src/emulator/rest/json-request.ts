import type { IncomingMessage } from 'node:http';
import { Ajv, type ValidateFunction } from 'ajv';
import { hasBody, JSON_BODY_LIMIT, readRequestBody } from './request-body.js';
import { refuse } from './rest-error-codes.js';

/**
 * JSON request bodies: `application/json` only (else 415), at most 64 KiB,
 * parsed, then checked against the operation's request schema (a subset of
 * device_rest_api.yaml written out here, so the emulator needs no YAML at run
 * time). Every fault is a 400/415 refusal, never a crash.
 */
const ajv = new Ajv({ allErrors: false, strict: true });

export function requestSchema<T>(schema: Record<string, unknown>): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/** The body parsed and checked; `undefined` when the body is optional and absent. */
export async function readJsonBody<T>(req: IncomingMessage, validate: ValidateFunction<T>, options: { required: boolean }): Promise<T | undefined> {
  if (!hasBody(req)) {
    if (options.required) throw refuse.invalid('this request needs a JSON body');
    return undefined;
  }
  if (!isJsonContentType(req)) {
    throw refuse.unsupportedMediaType(`expected Content-Type application/json, got ${req.headers['content-type'] ?? 'none'}`);
  }
  const bytes = await readRequestBody(req, JSON_BODY_LIMIT);
  if (bytes.length === 0 && !options.required) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw refuse.invalid(`the body is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!validate(value)) {
    const first = validate.errors?.[0];
    throw refuse.invalid(`the body does not match the request schema: ${first ? `${first.instancePath || '/'} ${first.message ?? ''}` : 'invalid'}`);
  }
  return value;
}
