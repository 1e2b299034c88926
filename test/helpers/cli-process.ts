import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './emulator-process.js';

/**
 * A `sphere-rig` command running as its own process, read line by line while it
 * runs: a test waits for a line (the CLI said it started a run) before acting
 * (Ctrl-C, releasing a board), instead of sleeping.
 */
export class CliProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #waiters: Array<{ stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (line: string) => void }> = [];
  #exitCode: number | null | undefined;

  constructor(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    this.#child = child;
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream]! }).on('line', (line) => {
        this[stream].push(line);
        for (const waiter of [...this.#waiters]) {
          if (waiter.stream === stream && waiter.pattern.test(line)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      });
    }
    const timeoutMs = options.timeoutMs ?? 120_000;
    this.exited = new Promise((resolve, reject) => {
      // A command that hangs is killed rather than left behind the test.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`sphere-rig ${args.join(' ')} did not finish in ${timeoutMs} ms\n${this.output}`));
      }, timeoutMs);
      child.on('error', reject);
      // 'close': every line of both pipes has been read.
      child.on('close', (code) => {
        clearTimeout(timer);
        this.#exitCode = code;
        resolve(code);
      });
    });
  }

  /** The first line (already written or still to come) matching; rejects if the process ends first. */
  waitForLine(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
    const seen = this[stream].find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ stream, pattern, resolve });
      void this.exited.then(
        () => reject(new Error(`sphere-rig exited (${String(this.#exitCode)}) without printing ${pattern} on ${stream}:\n${this.output}`)),
        reject,
      );
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  get output(): string {
    return `--- stdout\n${this.stdout.join('\n')}\n--- stderr\n${this.stderr.join('\n')}`;
  }
}

/**
 * `fn` over every item, at most `limit` at once, results in order: CLI processes
 * in parallel, but not so many that a loaded two-core machine times them out.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
