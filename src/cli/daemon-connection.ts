import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, isFailureClass, RigError, type FailureClass } from '../util/failure.js';
import { loopbackHttpUrl } from '../util/loopback-address.js';
import { parseLoopbackUrlFlag } from './parse-options.js';
import { defaultStateDir } from './commands/up.js';

/**
 * How a command finds the daemon: --daemon/--token flags, else SPHERE_RIG_URL /
 * SPHERE_RIG_TOKEN, else what `sphere-rig up` wrote into the state folder
 * (daemon.json with its URL, admin.token with the admin token).
 */
export interface DaemonConnection {
  url: string;
  token: string;
}

export const DAEMON_FILE = 'daemon.json';
export const ADMIN_TOKEN_FILE = 'admin.token';

export interface DaemonFlags {
  daemon?: string;
  token?: string;
  state?: string;
}

export function resolveDaemon(flags: DaemonFlags): DaemonConnection {
  return { url: resolveDaemonUrl(flags), token: resolveToken(flags) };
}

/** The daemon's URL alone (what the readiness check needs: /api/v1/health takes no token). */
export function resolveDaemonUrl(flags: DaemonFlags): string {
  return daemonUrl(flags, flags.state ?? defaultStateDir());
}

/** The API token; none found is the caller's mistake (exit 2, see action.ts). */
export function resolveToken(flags: DaemonFlags): string {
  const state = flags.state ?? defaultStateDir();
  let token = flags.token ?? process.env.SPHERE_RIG_TOKEN;
  if (!token && existsSync(join(state, ADMIN_TOKEN_FILE))) token = readFileSync(join(state, ADMIN_TOKEN_FILE), 'utf8').trim();
  if (!token) throw new InputError('token-missing', `no API token: give --token or SPHERE_RIG_TOKEN (no ${join(state, ADMIN_TOKEN_FILE)})`);
  return token;
}

/**
 * An error answer of the daemon (HTTP 4xx/5xx). Its message is the daemon's own
 * message, as sent, followed by the request and status; 400/401/403/404 are the
 * caller's mistakes (exit 2), anything else keeps the daemon's failure class.
 */
export class DaemonHttpError extends RigError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly daemonMessage: string,
    failureClass: FailureClass,
    code: string,
  ) {
    super(failureClass, code, `${daemonMessage} (${method} ${path}: HTTP ${status})`, { status });
  }

  /** Statuses by which the daemon says the request itself was wrong: a bad value, an unknown name, a refused token. */
  get isCallerMistake(): boolean {
    return CALLER_STATUSES.has(this.status);
  }
}

const CALLER_STATUSES = new Set([400, 401, 403, 404, 405, 413, 422]);

/** The daemon's URL from the first source that gives one; it must be http:// on loopback, as the daemon serves. */
function daemonUrl(flags: { daemon?: string }, state: string): string {
  if (flags.daemon !== undefined) return parseLoopbackUrlFlag(flags.daemon, '--daemon');
  if (process.env.SPHERE_RIG_URL) return loopbackHttpUrl(process.env.SPHERE_RIG_URL, 'SPHERE_RIG_URL');
  const file = join(state, DAEMON_FILE);
  if (!existsSync(file)) throw new InputError('daemon-unknown', `no daemon: start one with \`sphere-rig up\`, or give --daemon URL (no ${file})`);
  let written: unknown;
  try {
    written = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError('daemon-file-invalid', `${file}: not the JSON \`sphere-rig up\` writes (${(error as Error).message}); start the daemon again or give --daemon URL`, { path: file });
  }
  const { url, stoppedAt } = (written ?? {}) as { url?: unknown; stoppedAt?: unknown };
  // A daemon that stopped cleanly leaves `url: null` (and when it stopped).
  if (url === null) throw new InputError('daemon-unknown', `no daemon: the last one stopped${typeof stoppedAt === 'string' ? ` at ${stoppedAt}` : ''}; start one with \`sphere-rig up\`, or give --daemon URL`);
  if (typeof url !== 'string') throw new InputError('daemon-file-invalid', `${file}: has no "url"; start the daemon again or give --daemon URL`, { path: file });
  return loopbackHttpUrl(url, file);
}

/** One JSON API call with a timeout; daemon errors keep their code and failure class. */
export async function daemonRequest<T>(
  connection: DaemonConnection,
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number; signal?: AbortSignal; accept?: string } = {},
): Promise<T> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.signal ? [options.signal] : [])]);
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${connection.token}`,
        accept: options.accept ?? 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw new RigError(options.signal?.aborted ? 'cancelled' : 'timeout', 'daemon-timeout', `${method} ${path}: no answer from ${connection.url}`);
    throw new RigError('infra-error', 'daemon-unreachable', `cannot reach the daemon at ${connection.url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    let error: { code?: string; message?: string; failureClass?: string } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {
      // not JSON: keep the status line
    }
    const failureClass = isFailureClass(error.failureClass) ? error.failureClass : 'infra-error';
    throw new DaemonHttpError(response.status, method, path, error.message ?? (text.slice(0, 200) || response.statusText), failureClass, error.code ?? `http-${response.status}`);
  }
  if ((options.accept ?? 'application/json') !== 'application/json') return text as T;
  return (text ? JSON.parse(text) : undefined) as T;
}
