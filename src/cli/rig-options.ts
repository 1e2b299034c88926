import type { Command } from 'commander';
import { RigError } from '../util/failure.js';
import { UsageError } from './action.js';
import { resolveDaemonUrl, resolveToken, type DaemonConnection, type DaemonFlags } from './daemon-connection.js';
import { parseCount } from './parse-options.js';

/**
 * What every command that talks to the daemon shares: how it finds the daemon
 * and its token, and `--wait-ready [SECONDS]` (wait until the daemon says it is
 * ready before doing anything, for scripts that start `sphere-rig up` and use it
 * at once).
 */
export interface ConnectionFlags extends DaemonFlags {
  /** `--wait-ready` alone is `true`; with a value, its text. */
  waitReady?: string | boolean;
}

export const DEFAULT_READY_WAIT_S = 120;
/** Readiness has no event to wait on: the health route is asked again at this pace, each ask awaited. */
const READY_POLL_MS = 250;

export function withConnection(command: Command): Command {
  return command
    .option('--daemon <url>', 'daemon URL, http:// on loopback (default: SPHERE_RIG_URL or <state>/daemon.json)')
    .option('--token <token>', 'API token (default: SPHERE_RIG_TOKEN or <state>/admin.token)')
    .option('--state <dir>', 'state folder of `sphere-rig up` (default: $SPHERE_RIG_HOME or ./.sphere-rig)')
    .option(
      '--wait-ready [seconds]',
      `first wait until the daemon is ready (listening, every configured board registered, DAA service up), at most SECONDS (default ${DEFAULT_READY_WAIT_S}); exit 3 if it is not`,
    );
}

/** Seconds to wait for readiness, or null for no wait; a bad value is a usage error. */
export function readyWaitSeconds(flags: ConnectionFlags): number | null {
  if (flags.waitReady === undefined || flags.waitReady === false) return null;
  if (flags.waitReady === true) return DEFAULT_READY_WAIT_S;
  return parseCount(flags.waitReady, '--wait-ready', 0, 86_400);
}

/**
 * The daemon connection, after `--wait-ready` if asked. Flags are checked first
 * (a bad flag is a usage error whether or not a daemon is there); the token is
 * looked for after the wait, as a daemon starting for the first time writes it.
 */
export async function connect(flags: ConnectionFlags, options: { quiet?: boolean } = {}): Promise<DaemonConnection> {
  const wait = readyWaitSeconds(flags);
  if (flags.daemon !== undefined) resolveDaemonUrl(flags);
  if (wait === null) return { url: resolveDaemonUrl(flags), token: resolveToken(flags) };
  const url = await waitForReady(flags, wait, options.quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`));
  return { url, token: resolveToken(flags) };
}

interface HealthAnswer {
  ok?: boolean;
  ready?: boolean;
  boards?: number;
  expectedBoards?: number;
  daa?: string;
}

/**
 * Polls GET /api/v1/health (no token needed) until it answers `ready: true`, at
 * most `seconds`. A daemon not listening yet, or whose state folder has no URL
 * yet, counts as not ready. Returns the daemon's URL; exit 3 on timeout.
 */
export async function waitForReady(flags: DaemonFlags, seconds: number, say: (line: string) => void): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  let why = 'no answer yet';
  let told = false;
  for (;;) {
    let url: string | undefined;
    try {
      url = resolveDaemonUrl(flags);
    } catch (error) {
      // No daemon.json yet (or a stopped daemon's): it may be starting. Anything else is a real mistake.
      if (!(error instanceof RigError) || error.code !== 'daemon-unknown') throw error;
      why = error.message;
    }
    if (url !== undefined) {
      const remaining = Math.max(1, deadline - Date.now());
      try {
        const response = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(Math.min(5_000, remaining)), headers: { accept: 'application/json' } });
        if (response.ok) {
          const health = (await response.json()) as HealthAnswer;
          // A daemon from before readiness existed answers without `ready`: its `ok` is all it can say.
          if (health.ready === true || (health.ready === undefined && health.ok === true)) return url;
          why = describeHealth(health);
        } else {
          why = `GET /api/v1/health answered HTTP ${response.status}`;
        }
      } catch (error) {
        why = `not listening at ${url} (${(error as Error).message})`;
      }
      if (!told) {
        say(`waiting for the daemon at ${url} to be ready (at most ${seconds} s): ${why}`);
        told = true;
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new RigError('infra-error', 'daemon-not-ready', `daemon not ready after ${seconds} s: ${why}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(READY_POLL_MS, left)));
  }
}

function describeHealth(health: HealthAnswer): string {
  const parts: string[] = [];
  if (typeof health.boards === 'number') parts.push(`${health.boards}${typeof health.expectedBoards === 'number' ? ` of ${health.expectedBoards}` : ''} boards registered`);
  if (health.daa) parts.push(`DAA service ${health.daa}`);
  return parts.length ? parts.join(', ') : 'not ready';
}

/** `90s`, `30m`, `2h`, `1d` or plain milliseconds, as milliseconds; a usage error naming the flag otherwise. */
export function parseDuration(text: string, flag: string, minMs: number, maxMs: number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match?.[2] ?? 'ms') as 'ms'];
  const ms = match ? Math.round(Number(match[1]) * unit) : NaN;
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    throw new UsageError(`${flag} must be a duration such as 90s, 30m or 2h (or milliseconds), between ${formatMs(minMs)} and ${formatMs(maxMs)}; got ${JSON.stringify(text)}`);
  }
  return ms;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** A fixed list of values for a flag, checked here so a typo is a usage error naming the choices. */
export function parseChoice<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}; got ${JSON.stringify(text)}`);
  return text as T;
}
