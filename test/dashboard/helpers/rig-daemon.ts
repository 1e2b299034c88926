import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI } from '../../helpers/emulator-process.js';

/**
 * `sphere-rig up` as its own process, on a port the test can reuse: the
 * dashboard tests kill the daemon and start it again on the same state folder
 * and port, as a lab machine would after a crash.
 */
export interface RigDaemonOptions {
  rig: string;
  stateDir: string;
  scenarioDirs: string[];
  /** 0 picks a free port. */
  port?: number;
}

export class RigDaemon {
  private constructor(
    readonly options: RigDaemonOptions,
    readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
    readonly token: string,
    readonly stderr: string[],
  ) {}

  static async start(options: RigDaemonOptions): Promise<RigDaemon> {
    const args = [CLI, 'up', '--rig', options.rig, '--state', options.stateDir, '--listen', `127.0.0.1:${options.port ?? 0}`, '--scenarios', ...options.scenarioDirs];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPHERE_RIG_LOG_LEVEL: 'warn' } });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /daemon up at (http:\/\/[\d.:]+)/.exec(line);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`daemon exited with ${String(code)}:\n${stderr.join('\n')}`)));
    });
    const token = readFileSync(join(options.stateDir, 'admin.token'), 'utf8').trim();
    return new RigDaemon(options, child, url, Number(new URL(url).port), token, stderr);
  }

  /** The same rig, state folder and port again (after `kill`). */
  restart(): Promise<RigDaemon> {
    return RigDaemon.start({ ...this.options, port: this.port });
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, token: string | null = this.token): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // XML, YAML and plain text stay text
    }
    return { status: response.status, body: parsed as T };
  }

  /** Polls a run until it has finished (runs in these tests take seconds). */
  async waitForRun(id: string, timeoutMs = 120_000): Promise<{ verdict: string; reason: string | null }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.request<{ status: string; verdict: string; reason: string | null }>('GET', `/api/v1/runs/${id}`);
      if (body.status === 'finished') return body;
      if (Date.now() > deadline) throw new Error(`run ${id} did not finish in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async submit(body: Record<string, unknown>): Promise<string[]> {
    const { status, body: answer } = await this.request<{ runs: Array<{ id: string }> }>('POST', '/api/v1/runs', body);
    if (status !== 201) throw new Error(`run not submitted (${status}): ${JSON.stringify(answer)}`);
    return answer.runs.map((r) => r.id);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}
