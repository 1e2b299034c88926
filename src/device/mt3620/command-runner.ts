import { spawn } from 'node:child_process';
import { RigError } from '../../util/failure.js';

/**
 * How the real-board driver runs host commands (power switch, stty, slattach,
 * ip). Tests pass a fake that records the command lines and replays recorded
 * outputs, so nothing is ever executed against a real network or switch.
 */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A long-running command (slattach): its pid, its end, and a way to stop it. */
export interface StartedCommand {
  readonly pid: number | undefined;
  readonly exited: Promise<CommandResult>;
  /** SIGTERM to this process only. */
  stop(): void;
}

export interface CommandRunner {
  run(file: string, args: readonly string[], options: RunOptions): Promise<CommandResult>;
  start(file: string, args: readonly string[]): StartedCommand;
}

export class CommandError extends RigError {}

export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const MAX_OUTPUT = 64 * 1024;

/** Runs commands as child processes; a timed-out or cancelled one is killed with its process group. */
export class ChildProcessRunner implements CommandRunner {
  run(file: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    const what = describeCommand(file, args);
    if (options.signal?.aborted) return Promise.reject(new CommandError('cancelled', 'cancelled', `${what} was cancelled`));
    return new Promise((resolve, reject) => {
      // Its own process group, so a shell's children die with it on timeout.
      const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      let settled = false;
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const killGroup = (): void => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const onAbort = (): void => {
        killGroup();
        finish(() => reject(new CommandError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: options.signal?.reason })));
      };
      const timer = setTimeout(() => {
        killGroup();
        finish(() => reject(new CommandError('timeout', 'command-timeout', `${what} did not finish within ${options.timeoutMs} ms (killed)`, { timeoutMs: options.timeoutMs })));
      }, options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-MAX_OUTPUT)));
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-MAX_OUTPUT)));
      child.on('error', (error: NodeJS.ErrnoException) => {
        const missing = error.code === 'ENOENT';
        finish(() =>
          reject(new CommandError('infra-error', missing ? 'command-not-found' : 'command-failed', missing ? `${file} is not installed (or not on PATH)` : `${what}: ${error.message}`, { file }, { cause: error })),
        );
      });
      child.on('close', (code, signal) => finish(() => resolve({ code, signal, stdout, stderr })));
    });
  }

  start(file: string, args: readonly string[]): StartedCommand {
    const child = spawn(file, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-MAX_OUTPUT)));
    const exited = new Promise<CommandResult>((resolve) => {
      child.on('error', (error) => resolve({ code: null, signal: null, stdout: '', stderr: `${stderr}${error.message}` }));
      child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
    });
    // A link process must not keep a finished program alive; its owner stops it on close.
    child.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    return {
      pid: child.pid,
      exited,
      stop: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      },
    };
  }
}
