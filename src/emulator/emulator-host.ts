import { resolve } from 'node:path';
import { InputError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import type { Speed } from './board-clock.js';
import { registerBoardCommands } from './board-control.js';
import { EmulatedBoard } from './emulated-board.js';
import { readStateFile } from './provisioning.js';
import { ControlServer } from './surfaces/control-server.js';
import { DEFAULT_BOARD_SERVICES } from './board-services.js';
import { DeviceLogRecorder } from './device-log-recorder.js';
import { PtyUart } from './surfaces/pty-uart.js';

/**
 * The emulator program: hosts N boards of a state folder in one process and
 * gives each the surfaces a real board has: its debug and recovery UARTs as
 * pseudo-terminals and a control channel for its pins and power (plus the
 * emulator-only controls). Board services add the REST API, the recovery ROM,
 * the debug output port and the emulator-only trace.
 */
export interface HostedBoard {
  name: string;
  board: EmulatedBoard;
  debugUart: PtyUart;
  recoveryUart: PtyUart;
  control: ControlServer;
  /** The board's device log (GET /log), kept beside its flash. */
  deviceLog: DeviceLogRecorder;
  /** Per-board services started by `BoardServiceFactory`s (REST API, recovery ROM, attestation...). */
  services: BoardService[];
}

/**
 * A piece of the emulated device that runs beside the board model and talks to
 * the outside through a surface: the REST API server, the recovery ROM on the
 * recovery UART, the attestation client. Each lives in its own file and is
 * listed in board-services.ts.
 */
export interface BoardService {
  readonly name: string;
  /** Extra fields for this board's line in `emulator run --json` (e.g. restPort). */
  surfaces?(): Record<string, unknown>;
  close(): Promise<void>;
}

export interface BoardServiceContext {
  hosted: HostedBoard;
  stateDir: string;
  options: EmulatorHostOptions;
}

export type BoardServiceFactory = (context: BoardServiceContext) => Promise<BoardService>;

export interface BoardSurfaces {
  name: string;
  deviceId: string;
  debugUart: string;
  recoveryUart: string;
  controlPort: number;
  controlHost: string;
  /** Added by services, e.g. restPort. */
  [field: string]: unknown;
}

export interface EmulatorHostOptions {
  stateDir: string;
  /** How many of the state's boards to host; default all. */
  boards?: number;
  speed?: Speed;
  /** Power the boards on at start, as plugging in a real board does. Default true. */
  powerOn?: boolean;
  /** Services to start per board; default: every service in board-services.ts. */
  services?: BoardServiceFactory[];
  /** The emulator-only readable trace on its own pty (default true); false proves nothing depends on it. */
  trace?: boolean;
  /** Service settings (e.g. the DAA service URL), by name. */
  settings?: Record<string, string>;
}

const log = componentLogger('emulator');
const DEBUG_BAUD = 115200;
const RECOVERY_BAUD = 115200;
const CONTROL_MAX_LINE_BYTES = 48 * 1024 * 1024;

export class EmulatorHost {
  private constructor(readonly boards: HostedBoard[]) {}

  static async start(options: EmulatorHostOptions): Promise<EmulatorHost> {
    const stateDir = resolve(options.stateDir);
    const state = readStateFile(stateDir);
    if (!state) throw new InputError('state-missing', `${stateDir}: no emulator state here; run \`sphere-rig emulator provision --state ${options.stateDir}\` first`);
    const wanted = options.boards ?? state.boards.length;
    if (!Number.isInteger(wanted) || wanted < 1) throw new InputError('bad-count', `--boards must be a positive integer, got ${wanted}`);
    if (wanted > state.boards.length) {
      throw new InputError('not-enough-boards', `${stateDir} holds ${state.boards.length} boards; ${wanted} asked (provision more with --count ${wanted})`);
    }
    const speed = options.speed ?? 'fast';
    const hosted: HostedBoard[] = [];
    const host = new EmulatorHost(hosted);
    try {
      const factories = options.services ?? DEFAULT_BOARD_SERVICES;
      for (const entry of state.boards.slice(0, wanted)) {
        const board = await hostBoard(entry.name, entry.dir, speed);
        hosted.push(board);
        for (const factory of factories) board.services.push(await factory({ hosted: board, stateDir, options }));
      }
    } catch (error) {
      await host.close();
      throw error;
    }
    if (options.powerOn ?? true) for (const b of hosted) await b.board.powerOn();
    return host;
  }

  surfaces(): BoardSurfaces[] {
    return this.boards.map((b) => ({
      name: b.name,
      deviceId: b.board.deviceId,
      debugUart: b.debugUart.path,
      recoveryUart: b.recoveryUart.path,
      controlHost: b.control.host,
      controlPort: b.control.port,
      ...Object.assign({}, ...b.services.map((service) => service.surfaces?.() ?? {})),
    }));
  }

  /** Stops every board between flash operations (they are synchronous), then releases the surfaces. */
  async close(): Promise<void> {
    for (const b of this.boards) {
      try {
        b.board.close();
        b.deviceLog.close();
      } catch (error) {
        log.warn('board close failed', { board: b.name, error: (error as Error).message });
      }
    }
    await Promise.allSettled(this.boards.flatMap((b) => b.services.map((service) => service.close())));
    await Promise.allSettled(this.boards.flatMap((b) => [b.control.close(), b.debugUart.close(), b.recoveryUart.close()]));
  }
}

async function hostBoard(name: string, dir: string, speed: Speed): Promise<HostedBoard> {
  const board = EmulatedBoard.open(dir, { name, speed });
  // Before anything can power the board: the log holds every boot.
  const deviceLog = DeviceLogRecorder.open(board);
  const debugUart = await PtyUart.open({ name: `${name}/debug`, baudRate: DEBUG_BAUD, timing: speed, flowControl: 'none' });
  const recoveryUart = await PtyUart.open({ name: `${name}/recovery`, baudRate: RECOVERY_BAUD, timing: speed, flowControl: 'none' });
  // Large enough for an `install` carrying a whole OS image set in base64.
  const control = await ControlServer.listen({ host: '127.0.0.1', port: 0, maxLineBytes: CONTROL_MAX_LINE_BYTES });
  // Each UART carries what the real one does (../shared/spec/device-link.md); the
  // readable trace has its own emulator-only surface (emulator-trace-service.ts).
  board.on('diagnostics', (line) => debugUart.writeLine(line));
  board.on('recovery-uart', (line) => recoveryUart.writeLine(line));
  registerBoardCommands(control, board, [debugUart, recoveryUart]);
  return { name, board, debugUart, recoveryUart, control, deviceLog, services: [] };
}
