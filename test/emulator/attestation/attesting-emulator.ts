import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ConsoleLog } from '../../../src/device/console-log.js';
import { ControlClient } from '../../../src/device/emulated/control-client.js';
import type { BoardSurfaces } from '../../../src/emulator/emulator-host.js';
import { CLI, type ConnectedBoard } from '../../helpers/emulator-process.js';

/**
 * `sphere-rig emulator run --daa-url URL` as its own program, powered off at
 * start so a test can claim the board before its first boot.
 */
export class AttestingEmulator {
  private constructor(
    readonly child: ChildProcess,
    readonly boards: BoardSurfaces[],
    readonly stderr: string[],
  ) {}

  static async start(stateDir: string, daaUrl: string | undefined): Promise<AttestingEmulator> {
    const args = [CLI, 'emulator', 'run', '--state', stateDir, '--json', '--powered-off', ...(daaUrl ? ['--daa-url', daaUrl] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const lines = createInterface({ input: child.stdout! });
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => String(line)),
      once(child, 'exit').then(([code]) => {
        throw new Error(`emulator exited with ${String(code)}:\n${stderr.join('\n')}`);
      }),
    ]);
    return new AttestingEmulator(child, (JSON.parse(first) as { boards: BoardSurfaces[] }).boards, stderr);
  }

  async connect(index = 0): Promise<ConnectedBoard> {
    const surfaces = this.boards[index]!;
    const control = await ControlClient.connect({ port: surfaces.controlPort, defaultTimeoutMs: 20_000 });
    const console = await ConsoleLog.open({ path: surfaces.debugUart, name: surfaces.name });
    return { surfaces, control, console };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
