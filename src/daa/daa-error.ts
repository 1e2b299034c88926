import { RigError, type FailureClass } from '../util/failure.js';

/**
 * An operation of the DAA service that cannot be done (unknown tenant, device
 * claimed elsewhere, bad reference values...). `status` is the HTTP status the
 * router answers with; the CLI maps the failure class to its exit code.
 * Refused attestations are not errors: they are results (see refusal-reasons.ts).
 */
export class DaaError extends RigError {
  readonly status: number;

  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClassForStatus(status), code, message, details, options);
    this.status = status;
  }
}

function failureClassForStatus(status: number): FailureClass {
  return status === 504 ? 'timeout' : 'infra-error';
}

export const notFound = (what: string, id: string): DaaError => new DaaError(`${what}-not-found`, 404, `no ${what} '${id}'`, { [what]: id });
