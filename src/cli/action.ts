import { RigError, failureClassOf } from '../util/failure.js';
import { DaemonHttpError } from './daemon-connection.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';

/** Raised by a command for bad flags or arguments: exit 2 with the usage hint. */
export class UsageError extends RigError {
  constructor(message: string) {
    super('infra-error', 'usage', message);
  }
}

/**
 * Wraps a command's action: errors become one clear line on stderr (or a JSON
 * object with --json) and the exit code of their failure class. A command that
 * returns a number exits with it.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void> | number | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = typeof code === 'number' ? code : ExitCode.ok;
    } catch (error) {
      process.exitCode = reportError(error, wantsJson(args));
    }
  };
}

function wantsJson(args: unknown[]): boolean {
  return args.some((a) => typeof a === 'object' && a !== null && (a as { json?: unknown }).json === true);
}

/**
 * RigError codes that are the caller's mistake, not the rig's: no token found,
 * a token the event stream refused (HTTP 401/403).
 */
const CALLER_CODES = new Set(['token-missing', 'stream-refused']);

/**
 * Exit 2 for every mistake of the caller: bad flags, a refused or missing token,
 * and what the daemon answers 400/401/403/404 (an unknown scenario, board, run or
 * parameter). A daemon's 409 (busy or unavailable board) and 5xx stay
 * infrastructure faults (3).
 */
export function isCallerMistake(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  if (error instanceof DaemonHttpError) return error.isCallerMistake;
  return error instanceof RigError && CALLER_CODES.has(error.code);
}

export function reportError(error: unknown, json: boolean): number {
  if (error instanceof UsageError) {
    process.stderr.write(`sphere-rig: ${error.message}\n(see --help)\n`);
    return ExitCode.usage;
  }
  if (isCallerMistake(error)) {
    // Nothing ran, nothing failed: the daemon's (or our) message as it is, without a failure class.
    const rigError = error as RigError;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { ...rigError.toJSON(), failureClass: null } })}\n`);
    process.stderr.write(`sphere-rig: ${rigError.message}\n`);
    return ExitCode.usage;
  }
  const failureClass = failureClassOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    const body = error instanceof RigError ? error.toJSON() : { failureClass, message };
    process.stdout.write(`${JSON.stringify({ ok: false, error: body })}\n`);
  }
  process.stderr.write(`sphere-rig: ${failureClass}: ${message}\n`);
  if (process.env.SPHERE_RIG_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodeFor(failureClass);
}
