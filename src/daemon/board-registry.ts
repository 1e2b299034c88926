import type { Board, BoardIdentity, BoardState } from '../device/board.js';
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

export class BoardRegistry {
  readonly #boards = new Map<string, Board>();

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

  #add(board: Board): void {
    const id = board.identity.id;
    this.#boards.set(id, board);
    let previous: BoardState | null = null;
    const publishState = (state: BoardState) => {
      this.events.boardState(id, previous, state);
      previous = state;
    };
    publishState(board.state());
    board.on('state', publishState);
    board.console.on('line', (line) => this.events.consoleLine(id, { seq: line.seq, timestamp: line.timestamp, text: line.text }, { uart: 'debug' }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#boards.values()].map((b) => b.close()));
  }
}
