import type { Board, BoardIdentity, BoardState } from '../device/board.js';
import type { ConsoleLine } from '../device/console-history.js';
import { EmulatedBoardDriver, type EmulatedBoardSurfaces } from '../device/emulated/emulated-board-driver.js';
import { OfflineBoard } from '../device/offline-board.js';
import { componentLogger } from '../util/logger.js';
import type { RigBoardConfig } from './rig-config.js';
import type { RunEventPublisher } from './run-event-publisher.js';

/**
 * The boards of the rig, bound to their drivers. Every board's state changes and
 * console lines become events on the bus. A board that cannot be bound (a real
 * board that is not attached) is listed as offline with the reason, and the
 * rest of the rig keeps serving.
 */
const log = componentLogger('boards');

interface Wiring {
  /** The state last published for the board. */
  published: BoardState | null;
  detach(): void;
}

export class BoardRegistry {
  readonly #boards = new Map<string, Board>();
  readonly #wiring = new Map<string, Wiring>();

  constructor(private readonly events: RunEventPublisher) {}

  get boards(): ReadonlyMap<string, Board> {
    return this.#boards;
  }

  async bind(configs: readonly RigBoardConfig[], emulated: readonly EmulatedBoardSurfaces[], realBoardBinder?: (config: RigBoardConfig) => Promise<Board>): Promise<void> {
    for (const config of configs) {
      const identity = { id: config.id, tags: config.tags, tenant: config.tenant ?? null };
      let board: Board;
      try {
        if (config.driver === 'emulated') {
          const surfaces = emulated[config.emulatorBoard ?? -1];
          if (!surfaces) throw new Error(`the emulator has no board ${config.emulatorBoard}`);
          board = await EmulatedBoardDriver.connect(identity, surfaces);
        } else if (realBoardBinder) {
          board = await realBoardBinder(config);
        } else {
          throw new Error('real MT3620 boards are not supported by this daemon build');
        }
      } catch (error) {
        const why = (error as Error).message;
        log.warn('board offline', { board: config.id, why });
        const offline: BoardIdentity = { ...identity, driver: config.driver, deviceId: null, usbSerial: config.usbSerial ?? null };
        board = new OfflineBoard(offline, why);
      }
      this.#add(board);
    }
  }

  /**
   * Puts `board` in the place of the board with its ID (a new driver after the
   * emulator restarted, or an OfflineBoard while it is down) and returns the one
   * it replaces, which the caller closes. The old board's events are no longer
   * published; the new one's are. Its state is published now if it differs from
   * the last one published, or if a `reason` is given (offline → offline with why).
   */
  replace(board: Board, reason: string | null = null): Board {
    const id = board.identity.id;
    const old = this.#boards.get(id);
    if (!old) throw new Error(`no board '${id}' to replace`);
    const wiring = this.#wiring.get(id);
    wiring?.detach();
    this.#attach(board, wiring?.published ?? null, reason);
    return old;
  }

  #add(board: Board): void {
    this.#attach(board, null, null);
  }

  #attach(board: Board, published: BoardState | null, reason: string | null): void {
    const id = board.identity.id;
    this.#boards.set(id, board);
    const wiring: Wiring = {
      published,
      detach: () => {
        board.off('state', onState);
        board.console.off('line', onLine);
      },
    };
    const publishState = (state: BoardState, why: string | null = null) => {
      this.events.boardState(id, wiring.published, state, why);
      wiring.published = state;
    };
    const onState = (state: BoardState) => publishState(state);
    const onLine = (line: ConsoleLine) =>
      this.events.consoleLine(id, { seq: line.seq, timestamp: line.timestamp, text: line.text, ...(line.channel ? { channel: line.channel } : {}) }, { uart: line.channel ?? 'debug-uart' });
    const state = board.state();
    if (state !== published || reason !== null) publishState(state, reason);
    board.on('state', onState);
    board.console.on('line', onLine);
    this.#wiring.set(id, wiring);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#boards.values()].map((b) => b.close()));
  }
}
