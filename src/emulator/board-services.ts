import type { BoardServiceFactory } from './emulator-host.js';

/**
 * The services every hosted board runs beside its model, in start order. Each
 * is one file; add a line here to add one.
 */
export const DEFAULT_BOARD_SERVICES: BoardServiceFactory[] = [];
