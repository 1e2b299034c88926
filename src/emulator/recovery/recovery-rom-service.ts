import { setTimeout as delay } from 'node:timers/promises';
import { componentLogger } from '../../util/logger.js';
import { romTrustOf } from '../chip.js';
import type { BoardState, EmulatedBoard } from '../emulated-board.js';
import type { BoardService, BoardServiceFactory, HostedBoard } from '../emulator-host.js';
import type { PtyUart } from '../surfaces/pty-uart.js';
import { ROM_BAUD } from './recovery-agent.js';
import { PtyUartChannel } from './pty-uart-channel.js';
import { RecoveryRefusal } from './recovery-refusal.js';
import { runRecoveryRom } from './recovery-rom.js';
import type { RecoveryTarget } from './recovery-target.js';

const log = componentLogger('recovery-rom');
/** After a failed session, before the ROM prompts again: keeps a broken line from spinning. */
const RESTART_PAUSE_MS = 100;

/**
 * The recovery ROM of one hosted board: whenever the board enters
 * 'rom-recovery' (strap high at reset) a session runs on its recovery UART;
 * any other state (reset, power off or cut) ends it at once. A session that
 * fails (a refused file, a host that vanished) starts the ROM afresh, so the
 * board stays recoverable; one that completes reboots the board, which then
 * boots the new set if the host has released the strap.
 */
export const recoveryRomService: BoardServiceFactory = async ({ hosted }) => new RecoveryRomService(hosted);

class RecoveryRomService implements BoardService {
  readonly name = 'recovery-rom';
  #session: { controller: AbortController; done: Promise<void> } | undefined;
  #closed = false;
  readonly #onState = (state: BoardState): void => {
    this.#stop();
    if (state === 'rom-recovery' && !this.#closed) this.#start();
  };

  constructor(private readonly hosted: HostedBoard) {
    hosted.board.on('state', this.#onState);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.hosted.board.off('state', this.#onState);
    const session = this.#session;
    this.#stop();
    await session?.done;
  }

  #stop(): void {
    this.#session?.controller.abort();
    this.#session = undefined;
  }

  #start(): void {
    const controller = new AbortController();
    const done = this.#run(controller.signal).catch((error: unknown) => {
      log.error('recovery ROM failed', { board: this.hosted.name, error: error instanceof Error ? error.message : String(error) });
    });
    this.#session = { controller, done };
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { board, recoveryUart: uart, name } = this.hosted;
    const target = boardRecoveryTarget(board, uart);
    const say = (text: string): void => {
      if (!signal.aborted) board.emit('console', text);
    };
    while (!signal.aborted && !uart.closed) {
      target.setLineSettings({ baudRate: ROM_BAUD, rtsCts: false });
      const channel = new PtyUartChannel(uart, signal);
      try {
        const result = await runRecoveryRom(channel, target, { signal, say });
        say(`[RA] recovery complete: OS ${result.osVersion}, ${result.imageCount} images, ${result.totalBytes} bytes; rebooting`);
        log.info('recovery complete', { board: name, osVersion: result.osVersion });
        // The last frames are in the pty already; reboot outside this state handler's turn.
        setImmediate(() => {
          if (!signal.aborted && board.powered) board.reset();
        });
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof RecoveryRefusal) board.osLog('recoveryRefused', error.recoveryCode);
        log.warn('recovery session ended', { board: name, error: error instanceof Error ? error.message : String(error) });
        await delay(RESTART_PAUSE_MS, undefined, { signal }).catch(() => undefined);
      } finally {
        await channel.close();
        target.setLineSettings({ baudRate: ROM_BAUD, rtsCts: false });
      }
    }
  }
}

/** An EmulatedBoard and its recovery UART, as the ROM sees them. */
function boardRecoveryTarget(board: EmulatedBoard, uart: PtyUart): RecoveryTarget {
  return {
    deviceId: board.deviceId,
    romTrust: () => romTrustOf(board.chip),
    fuses: () => ({ ...board.chip.fuses }),
    imageSetCapacity: board.storage.osSlotCapacity(),
    eraseFlash: () => board.recoveryErase(),
    eraseDurationMs: () => board.timings.recoveryEraseMs,
    writeImageSet: (images, capability) => board.recoveryWrite(images, capability),
    setLineSettings: (settings) => {
      // RTS/CTS is the pty's flow control, fixed when the emulator opened it; only the pacing baud changes.
      uart.baudRate = settings.baudRate;
    },
    readHostLineSettings: (signal) => uart.readHostLineSettings({ timeoutMs: 5_000, ...(signal ? { signal } : {}) }),
  };
}
