import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI } from './emulator-process.js';

export interface DaemonProcessOptions {
  rig: string;
  stateDir: string;
  /** Extra scenario folders (--scenarios). */
  scenarios?: string | string[];
  /** 0 (default) picks a free port; restart() reuses the one picked. */
  port?: number;
  /** More environment for the daemon process. */
  env?: Record<string, string>;
}

/** What waitForRun gives back: the run record, of which tests mostly read these. */
export type FinishedRun = { status: string; verdict: string; reason: string | null } & Record<string, unknown>;

/** Bringing up four emulated boards takes a few seconds; a loaded CI machine, more. */
const START_TIMEOUT_MS = 90_000;

/** `sphere-rig up` as its own process, as a lab runs it; tests use its HTTP API and CLI. */
export class DaemonProcess {
  private constructor(
    readonly options: DaemonProcessOptions,
    readonly child: ChildProcess,
    readonly url: string,
    readonly token: string,
    readonly stderr: string[],
  ) {}

  static async start(options: DaemonProcessOptions): Promise<DaemonProcess> {
    const args = [CLI, 'up', '--rig', options.rig, '--state', options.stateDir, '--listen', `127.0.0.1:${options.port ?? 0}`];
    const scenarios = [options.scenarios ?? []].flat();
    if (scenarios.length) args.push('--scenarios', ...scenarios);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPHERE_RIG_LOG_LEVEL: 'warn', ...options.env } });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    const lines = createInterface({ input: child.stdout! });
    const url = await new Promise<string>((resolve, reject) => {
      // A daemon that neither comes up nor exits is killed, not waited for until mocha's own timeout.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`daemon not up after ${START_TIMEOUT_MS} ms:\n${stderr.join('\n')}`));
      }, START_TIMEOUT_MS);
      // Up once it says `ready` (every board registered, DAA up), at the URL it said it serves.
      let servedAt: string | undefined;
      lines.on('line', (line) => {
        servedAt ??= /daemon up at (http:\/\/[\d.:]+)/.exec(line)?.[1];
        if (!servedAt || !/^ready +http/.test(line)) return;
        clearTimeout(timer);
        resolve(servedAt);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited with ${String(code)}:\n${stderr.join('\n')}`));
      });
    });
    const token = readFileSync(join(options.stateDir, 'admin.token'), 'utf8').trim();
    return new DaemonProcess(options, child, url, token, stderr);
  }

  get stateDir(): string {
    return this.options.stateDir;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** The same rig, state folder and port again (after `stop`, e.g. a SIGKILL). */
  restart(): Promise<DaemonProcess> {
    return DaemonProcess.start({ ...this.options, port: this.port });
  }

  /** Submits runs; their IDs. */
  async submit(body: Record<string, unknown>): Promise<string[]> {
    const { status, body: answer } = await this.request<{ runs: Array<{ id: string }> }>('POST', '/api/v1/runs', body);
    if (status !== 201) throw new Error(`run not submitted (${status}): ${JSON.stringify(answer)}`);
    return answer.runs.map((r) => r.id);
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, token: string | null = this.token): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // text answers (XML, YAML) stay text
    }
    return { status: response.status, body: parsed as T };
  }

  /** Wait for a run to finish by following the run's events (no polling loop). */
  async waitForRun(id: string, timeoutMs = 120_000): Promise<FinishedRun> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.request<FinishedRun>('GET', `/api/v1/runs/${id}`);
      if (body.status === 'finished') return body;
      if (Date.now() > deadline) throw new Error(`run ${id} did not finish in ${timeoutMs} ms: ${JSON.stringify(body)}`);
      await this.nextRunEvent(id, Math.max(1, deadline - Date.now()));
    }
  }

  private async nextRunEvent(id: string, timeoutMs: number): Promise<void> {
    const { default: WebSocket } = await import('ws');
    const socket = new WebSocket(`${this.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:${id}&token=${this.token}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(timeoutMs, 5_000));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type?: string };
        if (message.type === 'live' || message.type === 'run.ended' || message.type === 'step.ended') {
          if (message.type !== 'live') {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      socket.on('error', () => resolve());
    });
    socket.close();
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const [code] = await exited;
    return code as number | null;
  }
}
