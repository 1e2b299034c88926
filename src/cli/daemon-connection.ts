import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, RigError } from '../util/failure.js';
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

export function resolveDaemon(flags: { daemon?: string; token?: string; state?: string }): DaemonConnection {
  const state = flags.state ?? defaultStateDir();
  let url = flags.daemon ?? process.env.SPHERE_RIG_URL;
  if (!url && existsSync(join(state, DAEMON_FILE))) {
    url = (JSON.parse(readFileSync(join(state, DAEMON_FILE), 'utf8')) as { url?: string }).url;
  }
  let token = flags.token ?? process.env.SPHERE_RIG_TOKEN;
  if (!token && existsSync(join(state, ADMIN_TOKEN_FILE))) token = readFileSync(join(state, ADMIN_TOKEN_FILE), 'utf8').trim();
  if (!url) throw new InputError('daemon-unknown', `no daemon: start one with \`sphere-rig up\`, or give --daemon URL (no ${join(state, DAEMON_FILE)})`);
  if (!token) throw new InputError('token-missing', `no API token: give --token or SPHERE_RIG_TOKEN (no ${join(state, ADMIN_TOKEN_FILE)})`);
  return { url: url.replace(/\/+$/, ''), token };
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
    const failureClass = (error.failureClass as never) ?? 'infra-error';
    throw new RigError(failureClass, error.code ?? `http-${response.status}`, `${method} ${path}: ${response.status} ${error.message ?? text.slice(0, 200)}`);
  }
  if ((options.accept ?? 'application/json') !== 'application/json') return text as T;
  return (text ? JSON.parse(text) : undefined) as T;
}
