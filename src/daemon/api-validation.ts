import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import express, { type RequestHandler, type Response } from 'express';
import { HttpError } from './http-errors.js';

/**
 * Request checking for the daemon's API: a JSON body parser with a size limit,
 * and JSON Schema validation of body, query and route params that answers 400
 * naming the field at fault (`body.params.count`, `query.limit`).
 *
 * Write schemas with `additionalProperties: false` to refuse unknown fields.
 * Query and params arrive as strings: before validation, a top-level property
 * declared `integer`, `number` or `boolean` is converted when its text is plainly
 * one (`"10"`, `"-2.5"`, `"true"`; never `"1e999"`, `"0x10"` or `" 5"`), and a
 * single value of an `array` property becomes a one-item array. Anything else is
 * left for the schema to refuse. The checked values are read with
 * `validated(res)`, because Express 5 re-parses `req.query` on every read.
 */
export const DEFAULT_BODY_LIMIT = '256kb';

export interface RequestSchemas {
  body?: Record<string, unknown>;
  query?: Record<string, unknown>;
  params?: Record<string, unknown>;
}

export interface ValidatedRequest<B = unknown, Q = unknown, P = unknown> {
  body: B;
  query: Q;
  params: P;
}

type Part = keyof RequestSchemas;

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Parses JSON bodies up to `limit` (default 256 KiB; larger answers 413). A body
 * in another media type answers 415 instead of being silently ignored.
 *
 * A body declared larger than the limit is answered 413 at once, unread; one
 * sent chunked that grows past it is answered once the parser gives up, and its
 * rest is read only up to `discardLimit` bytes more (the parser alone would
 * read all of it, however much that is), past which the connection is cut.
 * Mounted behind `lingerOnEarlyAnswer` (http-early-answer.ts), so that a client
 * still uploading reads these answers instead of a reset.
 */
export function jsonBody(options: { limit?: string | number; discardLimit?: number } = {}): RequestHandler {
  const limit = options.limit ?? DEFAULT_BODY_LIMIT;
  const limitBytes = typeof limit === 'number' ? limit : parseByteSize(limit);
  const discardLimit = options.discardLimit ?? 16 * 1024 * 1024;
  const parse = express.json({ limit: limitBytes, strict: true, type: JSON_TYPES });
  return (req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (hasBody && !req.is(JSON_TYPES)) {
      next(new HttpError(415, 'unsupported-media-type', `the request body must be JSON (Content-Type: application/json), not ${req.headers['content-type'] ?? 'untyped'}`));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (req.headers['transfer-encoding'] === undefined && Number.isFinite(declared) && declared > limitBytes) {
      next(new HttpError(413, 'body-too-large', `the request body is ${declared} bytes; at most ${limitBytes}`));
      return;
    }
    if (hasBody) boundRead(req, limitBytes + discardLimit);
    parse(req, res, next);
  };
}

/** Cuts the connection once more than `maxBytes` of body have come (the parser drains a refused body to its end otherwise). */
function boundRead(req: Parameters<RequestHandler>[0], maxBytes: number): void {
  let received = 0;
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > maxBytes) {
      req.off('data', onData);
      req.socket.destroy();
    }
  };
  // Attached in the same turn as the parser's own listener, so neither misses a chunk.
  req.on('data', onData);
  req.once('end', () => req.off('data', onData));
}

/** `256kb`, `1mb`, `512` (bytes). */
function parseByteSize(text: string): number {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(text.trim());
  if (!match) throw new Error(`not a byte size: ${text}`);
  const unit = (match[2] ?? 'b').toLowerCase();
  return Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

export class RequestValidator {
  /** Bodies are checked as sent: a string is never a number. */
  private readonly bodyAjv = new Ajv({ allErrors: false, strict: true, coerceTypes: false, useDefaults: true });
  private readonly textAjv = new Ajv({ allErrors: false, strict: true, coerceTypes: false, useDefaults: true });

  /** Middleware checking the parts that have a schema; compiled once, here. */
  validate(schemas: RequestSchemas): RequestHandler {
    const checks: [Part, ValidateFunction, TextConverter | null][] = [];
    if (schemas.params) checks.push(['params', this.textAjv.compile(schemas.params), textConverter(schemas.params)]);
    if (schemas.query) checks.push(['query', this.textAjv.compile(schemas.query), textConverter(schemas.query)]);
    if (schemas.body) checks.push(['body', this.bodyAjv.compile(schemas.body), null]);
    return (req, res, next) => {
      const checked: ValidatedRequest = { body: req.body, query: req.query, params: req.params };
      for (const [part, check, convert] of checks) {
        if (part === 'body' && req.body === undefined) {
          next(new HttpError(400, 'invalid-request', 'body: a JSON body is required', { field: 'body' }));
          return;
        }
        // Validation converts and fills defaults: work on a copy of query and params.
        const value = convert ? convert(part === 'query' ? req.query : req.params) : req.body;
        if (!check(value)) {
          next(validationError(part, check.errors?.[0]));
          return;
        }
        checked[part] = value;
      }
      res.locals.validated = checked;
      next();
    };
  }
}

const shared = new RequestValidator();

/** `new RequestValidator().validate(schemas)` with one validator for the process. */
export function validateRequest(schemas: RequestSchemas): RequestHandler {
  return shared.validate(schemas);
}

/** The checked (and coerced) request parts of a request that passed `validateRequest`. */
export function validated<B = unknown, Q = unknown, P = unknown>(res: Response): ValidatedRequest<B, Q, P> {
  const value = res.locals.validated as ValidatedRequest<B, Q, P> | undefined;
  if (!value) throw new HttpError(500, 'validation-missing', 'the route reads validated input but has no validateRequest before it');
  return value;
}

type TextConverter = (values: Record<string, unknown>) => Record<string, unknown>;

const PLAIN_INTEGER = /^-?(0|[1-9]\d{0,14})$/;
const PLAIN_NUMBER = /^-?(0|[1-9]\d{0,14})(\.\d{1,15})?$/;

/** Converts the strings of query or route params to the types their schema declares, strictly. */
function textConverter(schema: Record<string, unknown>): TextConverter {
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown; items?: { type?: unknown } }>;
  const convertOne = (text: unknown, type: unknown): unknown => {
    if (typeof text !== 'string') return text;
    if (type === 'integer' && PLAIN_INTEGER.test(text)) return Number(text);
    if (type === 'number' && PLAIN_NUMBER.test(text)) return Number(text);
    if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
    return text;
  };
  return (values) => {
    const converted: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(values)) {
      const property = Object.hasOwn(properties, name) ? properties[name] : undefined;
      const result = property?.type === 'array' ? (Array.isArray(value) ? value : [value]).map((item) => convertOne(item, property.items?.type)) : convertOne(value, property?.type);
      // defineProperty: a `__proto__` key stays a field the schema can refuse, not a prototype.
      Object.defineProperty(converted, name, { value: result, enumerable: true, writable: true, configurable: true });
    }
    return converted;
  };
}

function validationError(part: Part, error: ErrorObject | undefined): HttpError {
  if (!error) return new HttpError(400, 'invalid-request', `${part} is not valid`, { field: part });
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let problem = error.message ?? 'is not valid';
  if (error.keyword === 'required') {
    segments.push(String((error.params as { missingProperty: string }).missingProperty));
    problem = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    segments.push(String((error.params as { additionalProperty: string }).additionalProperty));
    problem = 'is not a known field';
  }
  const field = fieldName(part, segments);
  return new HttpError(400, 'invalid-request', `${field}: ${problem}`, { field });
}

/** `body.steps[0].name`; odd keys are quoted; long names cut, since they come from the client. */
function fieldName(part: Part, segments: readonly string[]): string {
  const name = segments.reduce((path, s) => (/^\d+$/.test(s) ? `${path}[${s}]` : /^[A-Za-z_$][\w$-]*$/.test(s) ? `${path}.${s}` : `${path}[${JSON.stringify(s)}]`), part);
  return name.length > 200 ? `${name.slice(0, 197)}...` : name;
}
