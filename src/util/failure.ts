/**
 * The failure taxonomy (after LAVA): every error the rig raises says which side
 * failed, so an infrastructure fault is never reported as a test failure.
 */
export const FAILURE_CLASSES = [
  'infra-error',
  'device-fault',
  'test-failed',
  'timeout',
  'cancelled',
  'not-applicable',
] as const;

export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Base of every typed error in sphere-rig. `code` is a stable machine-readable name. */
export class RigError extends Error {
  readonly failureClass: FailureClass;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(
    failureClass: FailureClass,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.failureClass = failureClass;
    this.code = code;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      failureClass: this.failureClass,
      code: this.code,
      message: this.message,
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

/** Bad input given to the rig (a file, a flag, a config): the operator's side. */
export class InputError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('infra-error', code, message, details, options);
  }
}

export function isFailureClass(value: unknown): value is FailureClass {
  return typeof value === 'string' && (FAILURE_CLASSES as readonly string[]).includes(value);
}

/** The failure class of any thrown value; unknown errors are the rig's own fault. */
export function failureClassOf(error: unknown): FailureClass {
  if (error instanceof RigError) return error.failureClass;
  if (error instanceof Error && error.name === 'AbortError') return 'cancelled';
  return 'infra-error';
}
