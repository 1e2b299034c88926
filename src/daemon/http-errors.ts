import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type winston from 'winston';
import { InputError, RigError, type FailureClass } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

/**
 * JSON error answers of the daemon's HTTP API:
 * `{"error": {"code", "message", "failureClass"?, "field"?, "details"?}}`.
 *
 * How the error handler answers what a route throws (or passes to `next`):
 *
 * | thrown | status |
 * | --- | --- |
 * | `HttpError` | its own status |
 * | `InputError` (bad operator input) | 400 |
 * | `RigError` of class device-fault / timeout / not-applicable / cancelled | 502 / 504 / 409 / 409 |
 * | `RigError` of class infra-error or test-failed, any other error | 500, logged with its stack |
 * | body-parser and router errors with a 4xx status (malformed JSON, too large, bad encoding, bad URL escape) | that status |
 */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    failureClass?: FailureClass;
    /** The request field at fault, e.g. `body.params.count` or `query.limit`. */
    field?: string;
    details?: Record<string, unknown>;
  };
}

/** An error that is an HTTP answer. */
export class HttpError extends RigError {
  readonly status: number;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { field?: string; details?: Record<string, unknown>; failureClass?: FailureClass; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(options.failureClass ?? 'infra-error', code, message, options.details ?? {}, { cause: options.cause });
    this.status = status;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }

  /** Client mistakes carry no failure class in the answer: nothing ran, nothing failed. */
  get isClientError(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

export const notFound = (code: string, message: string): HttpError => new HttpError(404, code, message);
export const conflict = (code: string, message: string): HttpError => new HttpError(409, code, message);

const STATUS_BY_CLASS: Record<FailureClass, number> = {
  'infra-error': 500,
  'test-failed': 500,
  'device-fault': 502,
  timeout: 504,
  'not-applicable': 409,
  cancelled: 409,
};

/** Codes for the errors body-parser, raw-body and the router raise (their `type`). */
const PARSER_CODES: Record<string, string> = {
  'entity.parse.failed': 'malformed-json',
  'entity.too.large': 'body-too-large',
  'encoding.unsupported': 'unsupported-encoding',
  'charset.unsupported': 'unsupported-charset',
  'request.aborted': 'request-aborted',
  'request.size.invalid': 'bad-content-length',
  'parameters.too.many': 'too-many-parameters',
  'entity.verify.failed': 'body-rejected',
};

interface Answer {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** A fault of the daemon: logged with its stack. */
  fault: boolean;
}

/** What to answer for any thrown value. */
export function errorAnswer(error: unknown): Answer {
  if (error instanceof HttpError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (!error.isClientError) body.error.failureClass = error.failureClass;
    if (error.field !== undefined) body.error.field = error.field;
    if (Object.keys(error.details).length) body.error.details = error.details;
    return { status: error.status, body, headers: error.headers, fault: error.status >= 500 };
  }
  if (error instanceof InputError) {
    return { status: 400, body: { error: { code: error.code, message: error.message, ...detailsOf(error) } }, headers: {}, fault: false };
  }
  if (error instanceof RigError) {
    const status = STATUS_BY_CLASS[error.failureClass];
    return { status, body: { error: { code: error.code, message: error.message, failureClass: error.failureClass, ...detailsOf(error) } }, headers: {}, fault: status === 500 };
  }
  const status = clientStatusOf(error);
  if (status !== undefined) {
    const type = (error as { type?: unknown }).type;
    const code = (typeof type === 'string' && PARSER_CODES[type]) || 'bad-request';
    const message = code === 'malformed-json' ? 'the request body is not valid JSON' : ((error as Error).message || 'bad request');
    return { status, body: { error: { code, message } }, headers: {}, fault: false };
  }
  return { status: 500, body: { error: { code: 'internal-error', message: 'internal error', failureClass: 'infra-error' } }, headers: {}, fault: true };
}

export function sendError(res: Response, error: unknown): void {
  const answer = errorAnswer(error);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status).json(answer.body);
}

/**
 * The last middleware of the app: every error becomes a JSON answer; client
 * mistakes never become a 500, and real faults are logged.
 */
export function httpErrorHandler(options: { logger?: winston.Logger } = {}): ErrorRequestHandler {
  const logger = options.logger ?? componentLogger('http');
  return (error: unknown, req, res, next) => {
    const answer = errorAnswer(error);
    if (answer.fault) {
      logger.error('request failed', { method: req.method, path: req.path, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
    if (res.headersSent) {
      // Too late for an answer: let Express close the connection.
      next(error);
      return;
    }
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.status(answer.status).json(answer.body);
  };
}

/** Answers 404 in JSON for routes nobody handled; mount after every route. */
export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => next(notFound('not-found', `no route ${req.method} ${req.path}`));
}

function detailsOf(error: RigError): { details?: Record<string, unknown> } {
  return Object.keys(error.details).length ? { details: error.details } : {};
}

/** The 4xx status of an error from body-parser, http-errors or the router, if it has one. */
function clientStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
  return value !== undefined && value >= 400 && value < 500 ? value : undefined;
}
