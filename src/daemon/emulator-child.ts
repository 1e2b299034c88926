import { spawn, type ChildProcess } from 'node:child_process';
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
  startTimeoutMs?: number;
}

export class EmulatorChild {
  private constructor(
    readonly child: ChildProcess,
    readonly boards: EmulatedBoardSurfaces[],
  ) {}

  static async start(options: EmulatorChildOptions): Promise<EmulatorChild> {
    const args = [CLI, 'emulator', 'run', '--state', options.stateDir, '--boards', String(options.boards), '--speed', options.speed, '--json'];
    if (options.daaUrl) args.push('--daa-url', options.daaUrl);
    if (options.poweredOff) args.push('--powered-off');
    // The emulator stops when this pipe closes, even if the daemon is SIGKILLed.
    args.push('--exit-with-parent');
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SPHERE_RIG_LOG_FORMAT: 'json' } });
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
    try {
      const [first] = (await Promise.race([
        once(lines, 'line', { signal: timeout }),
        once(child, 'exit', { signal: timeout }).then(([code]) => {
          throw new RigError('infra-error', 'emulator-exited', `the emulator exited with code ${String(code)} before it was ready (see the log)`);
        }),
      ])) as [string];
      const { boards } = JSON.parse(first) as { boards: EmulatedBoardSurfaces[] };
      return new EmulatorChild(child, boards);
    } catch (error) {
      child.kill('SIGTERM');
      if (timeout.aborted) throw new RigError('timeout', 'emulator-start-timeout', 'the emulator did not print its surfaces in time');
      throw error;
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
