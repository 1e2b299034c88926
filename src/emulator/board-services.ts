import { attestationService } from './attestation/attestation-service.js';
import type { BoardServiceFactory } from './emulator-host.js';
import { recoveryRomService } from './recovery/recovery-rom-service.js';
import { restService } from './rest/rest-service.js';
import { appOutputService } from './surfaces/app-output-service.js';
import { appUartService } from './surfaces/app-uart-service.js';
import { emulatorTraceService } from './surfaces/emulator-trace-service.js';

/**
 * The services every hosted board runs beside its model, in start order. Each
 * is one file; add a line here to add one.
 */
export const DEFAULT_BOARD_SERVICES: BoardServiceFactory[] = [
  restService,
  attestationService,
  recoveryRomService,
  appOutputService,
  appUartService,
  emulatorTraceService,
];
