import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EmulatedBoardSurfaces } from '../device/emulated/emulated-board-driver.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

/**
 * The emulator as the daemon runs it: its own program (`sphere-rig emulator
 * run --json`), reached only through the surfaces it prints. Its log lines are
 * passed through to the daemon's log.
 */
const CLI = fileURLToPath(new URL('../../bin/sphere-rig.js', import.meta.url));
const log = componentLogger('emulator');

export interface EmulatorChildOptions {
  stateDir: string;
  boards: number;
  speed: 'fast' | 'real';
  daaUrl?: string;
  /** Start with the boards' power off (the daemon claims them first). */
  poweredOff?: boolean;
  /** The emulator-only readable trace (default on); off proves scenarios judge only real surfaces. */
  trace?: boolean;
  startTimeoutMs?: number;
  /** Gives up the start (the process is stopped): the daemon is stopping. */
  signal?: AbortSignal;
}

/** How the emulator process ended: its exit code, or the signal that killed it. */
export interface EmulatorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class EmulatorChild {
  private constructor(
    readonly child: ChildProcess,
    readonly boards: EmulatedBoardSurfaces[],
    /** Settles when the process has exited, however (see EmulatorSupervisor). */
    readonly exited: Promise<EmulatorExit>,
  ) {}

  /**
   * Provisions the emulator's state folder through its own program (`sphere-rig
   * emulator provision`, which keeps boards that exist): the daemon never touches
   * the emulator's insides. Gives the OS version the boards were provisioned with,
   * the rig's baseline for recoveries.
   */
  static provision(options: { stateDir: string; boards: number; baselineApp: boolean; timeoutMs?: number }): Promise<{ osVersion: string; boards: number }> {
    const args = [CLI, 'emulator', 'provision', '--state', options.stateDir, '--count', String(options.boards), '--json'];
    if (options.baselineApp) args.push('--baseline-app');
    return new Promise((resolve, reject) => {
      execFile(process.execPath, args, { timeout: options.timeoutMs ?? 300_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SPHERE_RIG_LOG_FORMAT: 'json' } }, (error, stdout, stderr) => {
        if (error) {
          const why = error.killed ? `no answer in ${options.timeoutMs ?? 300_000} ms` : (stderr.trim().split('\n').at(-1) ?? error.message);
          return reject(new RigError('infra-error', 'emulator-provision-failed', `provisioning emulated boards in ${options.stateDir} failed: ${why}`));
        }
        try {
          const state = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { osVersion?: unknown; boards?: unknown[] };
          if (typeof state.osVersion !== 'string' || !Array.isArray(state.boards)) throw new Error('no osVersion or boards');
          resolve({ osVersion: state.osVersion, boards: state.boards.length });
        } catch (parseError) {
          reject(new RigError('infra-error', 'emulator-provision-failed', `sphere-rig emulator provision printed no state JSON (${(parseError as Error).message}): ${stdout.slice(0, 200)}`));
        }
      });
    });
  }

  static async start(options: EmulatorChildOptions): Promise<EmulatorChild> {
    const args = [CLI, 'emulator', 'run', '--state', options.stateDir, '--boards', String(options.boards), '--speed', options.speed, '--json'];
    if (options.daaUrl) args.push('--daa-url', options.daaUrl);
    if (options.poweredOff) args.push('--powered-off');
    if (options.trace === false) args.push('--no-trace');
    // The emulator stops when this pipe closes, even if the daemon is SIGKILLed.
    args.push('--exit-with-parent');
    // Its own process group: a Ctrl-C at the daemon's terminal reaches the daemon only, which stops the
    // emulator itself; so an emulator that exits while the daemon runs has died (see EmulatorSupervisor).
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SPHERE_RIG_LOG_FORMAT: 'json' }, detached: true });
    const exited = new Promise<EmulatorExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; message?: string };
        log.log(entry.level ?? 'info', entry.message ?? line, { ...entry, level: undefined, message: undefined });
      } catch {
        log.info(line);
      }
    });
    const lines = createInterface({ input: child.stdout! });
    const timeout = AbortSignal.timeout(options.startTimeoutMs ?? 120_000);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    try {
      const [first] = (await Promise.race([
        once(lines, 'line', { signal }),
        once(child, 'exit', { signal }).then(([code]) => {
          throw new RigError('infra-error', 'emulator-exited', `the emulator exited with code ${String(code)} before it was ready (see the log)`);
        }),
      ])) as [string];
      return new EmulatorChild(child, surfacesIn(first), exited);
    } catch (error) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      void exited.then(() => clearTimeout(killer));
      if (options.signal?.aborted) throw new RigError('cancelled', 'cancelled', 'the emulator start was given up');
      if (timeout.aborted) throw new RigError('timeout', 'emulator-start-timeout', 'the emulator did not print its surfaces in time');
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The boards of the emulator's first line; with --json a failure to start is printed there as {ok: false, error}. */
function surfacesIn(line: string): EmulatedBoardSurfaces[] {
  let parsed: { boards?: unknown; ok?: boolean; error?: { code?: string; message?: string } } | null;
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    parsed = null;
  }
  if (parsed?.ok === false) {
    throw new RigError('infra-error', 'emulator-start-failed', `the emulator did not start: ${parsed.error?.message ?? parsed.error?.code ?? 'no reason given'}`);
  }
  if (!Array.isArray(parsed?.boards)) throw new RigError('infra-error', 'emulator-start-failed', `the emulator printed ${JSON.stringify(line.slice(0, 200))} where its surfaces were expected`);
  return parsed.boards as EmulatedBoardSurfaces[];
}
