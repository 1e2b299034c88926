import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConsoleLog } from '../../src/device/console-log.js';
import { ControlClient } from '../../src/device/emulated/control-client.js';
import type { BoardSurfaces } from '../../src/emulator/emulator-host.js';
import { provisionEmulator } from '../../src/emulator/provisioning.js';

export const CLI = fileURLToPath(new URL('../../bin/sphere-rig.js', import.meta.url));

export interface ConnectedBoard {
  surfaces: BoardSurfaces;
  control: ControlClient;
  console: ConsoleLog;
}

/** As long as the daemon gives its emulator child: a hundred boards take seconds, a loaded CI machine longer. */
const START_TIMEOUT_MS = 120_000;

/** The boards of the emulator's first stdout line, if it is the JSON it prints with --json. */
function surfacesIn(line: string): BoardSurfaces[] | undefined {
  try {
    const parsed = JSON.parse(line) as { boards?: unknown } | null;
    return Array.isArray(parsed?.boards) ? (parsed.boards as BoardSurfaces[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The emulator as its own program (`sphere-rig emulator run`), the way the rig
 * uses it: tests reach boards only through the ptys and control ports it prints.
 */
export class EmulatorProcess {
  private constructor(
    readonly stateDir: string,
    readonly child: ChildProcess,
    readonly boards: BoardSurfaces[],
    private readonly ownsState: boolean,
    readonly stderr: string[],
  ) {}

  static async provision(options: { boards?: number; baselineApp?: boolean; stateDir?: string } = {}): Promise<string> {
    const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'sphere-rig-emu-'));
    await provisionEmulator({ stateDir, count: options.boards ?? 1, baselineApp: options.baselineApp ?? false });
    return stateDir;
  }

  /**
   * Runs the emulator on `stateDir` (else on a fresh one it deletes at `stop`),
   * powered off unless told otherwise; with `daaUrl` its boards attest there.
   */
  static async start(
    options: { boards?: number; baselineApp?: boolean; stateDir?: string; speed?: 'fast' | 'real'; poweredOff?: boolean; daaUrl?: string; trace?: boolean } = {},
  ): Promise<EmulatorProcess> {
    const ownsState = options.stateDir === undefined;
    const stateDir = options.stateDir ?? (await EmulatorProcess.provision(options));
    const args = [CLI, 'emulator', 'run', '--state', stateDir, '--json', '--speed', options.speed ?? 'fast'];
    if (options.poweredOff ?? true) args.push('--powered-off');
    if (options.daaUrl !== undefined) args.push('--daa-url', options.daaUrl);
    if (options.trace === false) args.push('--no-trace');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const lines = createInterface({ input: child.stdout! });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        // An emulator that neither prints nor exits is killed, not waited for until mocha's own timeout.
        const timer = setTimeout(() => {
          child.off('exit', onExit);
          child.kill('SIGKILL');
          reject(new Error(`emulator printed no surfaces within ${START_TIMEOUT_MS} ms:\n${stderr.join('\n')}`));
        }, START_TIMEOUT_MS);
        const onExit = (code: number | null): void => {
          clearTimeout(timer);
          reject(new Error(`emulator exited with ${String(code)} before printing its surfaces:\n${stderr.join('\n')}`));
        };
        child.once('exit', onExit);
        lines.once('line', (line: string) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(line);
        });
      });
      const boards = surfacesIn(first);
      if (!boards) {
        child.kill('SIGKILL');
        throw new Error(`emulator printed ${JSON.stringify(first)} where its surfaces (JSON with boards) were expected:\n${stderr.join('\n')}`);
      }
      return new EmulatorProcess(stateDir, child, boards, ownsState, stderr);
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      if (ownsState) rmSync(stateDir, { recursive: true, force: true });
      throw error;
    }
  }

  async connect(index = 0): Promise<ConnectedBoard> {
    const surfaces = this.boards[index]!;
    const control = await ControlClient.connect({ port: surfaces.controlPort, defaultTimeoutMs: 20_000 });
    // Emulator tests watch the model itself: its emulator-only readable trace.
    if (typeof surfaces.emulatorTrace !== 'string') throw new Error(`emulator ${surfaces.name} runs without its trace (--no-trace)`);
    const console = await ConsoleLog.open({ path: surfaces.emulatorTrace, name: surfaces.name });
    return { surfaces, control, console };
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    if (this.ownsState) rmSync(this.stateDir, { recursive: true, force: true });
    return this.child.exitCode;
  }
}

/** Powers a connected board on and waits until its OS says its services are up. */
export async function powerOnAndWaitForServices(board: ConnectedBoard): Promise<void> {
  // Marked before the request: a boot that is up before the expect starts still counts.
  const since = board.console.mark();
  await board.control.request('power', { on: true });
  await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
}

export async function disconnect(board: ConnectedBoard | undefined): Promise<void> {
  if (!board) return;
  await board.control.close();
  await board.console.close();
}
