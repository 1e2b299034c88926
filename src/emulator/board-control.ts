import { InputError, RigError } from '../util/failure.js';
import type { EmulatedBoard, BoardTimings } from './emulated-board.js';
import type { PtyUart } from './surfaces/pty-uart.js';
import type { ControlServer } from './surfaces/control-server.js';

/**
 * The control channel of one emulated board. The first group stands for what a
 * real rig has in hardware (FTDI GPIO pins: reset, recovery strap; a power
 * switch); the rest are emulator-only controls for fault injection, time and
 * OTA delivery. Parameters are schema-checked by the server, so absurd values
 * are refused before they reach the board.
 */
const none = { type: 'object', additionalProperties: false, properties: {} } as const;
const MAX_ADVANCE_MS = 10 * 365 * 24 * 3600 * 1000;

export function describeBoard(board: EmulatedBoard): Record<string, unknown> {
  return {
    deviceId: board.deviceId,
    state: board.state,
    powered: board.powered,
    recoveryStrap: board.strapRecovery,
    osVersion: board.osVersion ?? null,
    activeSlot: board.activeSlot ?? null,
    trial: board.storage.readRecord()?.trial ?? false,
    bootCount: board.chip.bootCount,
    uptimeSeconds: board.uptimeSeconds,
    boardTime: new Date(board.clock.now()).toISOString(),
    speed: board.speed,
    fuses: board.chip.fuses,
    capabilities: board.capabilities(),
    apps: board.apps(),
    flash: { operationCount: board.storage.flash.operationCount, operationsSinceMark: board.storage.flash.operationsSinceMark },
    timings: board.timings,
  };
}

/** Settled: off, stuck without a bootable set, or ready with no OS or app trial open. */
function isSettled(board: EmulatedBoard): boolean {
  if (board.state === 'off' || board.state === 'rom-wait') return true;
  if (board.state !== 'ready') return false;
  return !(board.storage.readRecord()?.trial ?? false) && !board.apps().some((app) => app.trial);
}

function awaitSettled(board: EmulatedBoard, timeoutMs: number, signal: AbortSignal): Promise<Record<string, unknown>> {
  if (isSettled(board)) return Promise.resolve(describeBoard(board));
  return new Promise((resolve, reject) => {
    // The client went away: stop waiting for it.
    const onAbort = (): void => {
      done();
      reject(new RigError('cancelled', 'cancelled', 'await-settled: the client disconnected'));
    };
    const check = (): void => {
      if (!isSettled(board)) return;
      done();
      resolve(describeBoard(board));
    };
    const done = (): void => {
      clearTimeout(timer);
      board.off('state', check);
      board.off('committed', check);
      signal.removeEventListener('abort', onAbort);
    };
    const timer = setTimeout(() => {
      done();
      reject(new RigError('timeout', 'not-settled', `the board did not settle within ${timeoutMs} ms (state ${board.state})`));
    }, timeoutMs);
    board.on('state', check);
    board.on('committed', check);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function registerBoardCommands(server: ControlServer, board: EmulatedBoard, uarts: PtyUart[]): void {
  server.register('info', { schema: none, handler: () => describeBoard(board) });

  // ---- the pins and the power switch
  server.register<{ on: boolean }>('power', {
    schema: { type: 'object', additionalProperties: false, required: ['on'], properties: { on: { type: 'boolean' } } },
    handler: async ({ on }) => {
      if (on) await board.powerOn();
      else board.powerOff();
      return { powered: board.powered, state: board.state };
    },
  });
  server.register('reset', {
    schema: none,
    handler: () => {
      if (!board.powered) throw new InputError('board-off', 'the board is off: power it on before a reset');
      board.reset();
      return { state: board.state };
    },
  });
  server.register<{ recovery: boolean }>('strap', {
    schema: { type: 'object', additionalProperties: false, required: ['recovery'], properties: { recovery: { type: 'boolean' } } },
    handler: ({ recovery }) => {
      board.setRecoveryStrap(recovery);
      return { recoveryStrap: recovery };
    },
  });

  // ---- fault injection
  server.register('flash-mark', {
    schema: none,
    handler: () => {
      board.markFlash();
      return { operationCount: board.storage.flash.operationCount };
    },
  });
  server.register<{ beforeOperation?: number; disarm?: boolean }>('power-cut', {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { beforeOperation: { type: 'integer', minimum: 1, maximum: 1_000_000_000 }, disarm: { type: 'boolean' } },
    },
    handler: ({ beforeOperation, disarm }) => {
      if (disarm) board.disarmPowerCut();
      else if (beforeOperation !== undefined) board.armPowerCut(beforeOperation);
      else throw new InputError('bad-params', "power-cut needs 'beforeOperation' or 'disarm'");
      return { armed: !disarm, beforeOperation: beforeOperation ?? null };
    },
  });
  server.register<{ stage: string | null; onlyInTrial?: boolean }>('hang', {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['stage'],
      properties: {
        stage: { anyOf: [{ type: 'null' }, { type: 'string', enum: ['ROM', '1BL', 'PLUTON', 'SM', 'NWL', 'KERNEL', 'OS'] }] },
        onlyInTrial: { type: 'boolean' },
      },
    },
    handler: ({ stage, onlyInTrial }) => {
      board.hangAtStage(stage ?? undefined, onlyInTrial ?? false);
      return { stage, onlyInTrial: onlyInTrial ?? false };
    },
  });
  server.register<{ slot: 'a' | 'b' | 'active' | 'inactive'; imageType: number }>('corrupt', {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['slot', 'imageType'],
      properties: { slot: { enum: ['a', 'b', 'active', 'inactive'] }, imageType: { type: 'integer', minimum: 0, maximum: 65535 } },
    },
    handler: ({ slot, imageType }) => board.corruptOsImage(slot, imageType),
  });
  server.register<{ componentId: string; signal?: number }>('kill-app', {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['componentId'],
      properties: { componentId: { type: 'string', maxLength: 64 }, signal: { type: 'integer', minimum: 1, maximum: 64 } },
    },
    handler: ({ componentId, signal }) => {
      board.killApp(componentId, signal ?? 9);
      return {};
    },
  });

  // ---- time and speed
  server.register<{ advanceMs?: number }>('clock', {
    schema: { type: 'object', additionalProperties: false, properties: { advanceMs: { type: 'number', minimum: 0, maximum: MAX_ADVANCE_MS } } },
    handler: ({ advanceMs }) => {
      if (advanceMs) board.clock.advance(advanceMs);
      return { boardTime: new Date(board.clock.now()).toISOString(), offsetMs: board.clock.offsetMs };
    },
  });
  server.register<Partial<BoardTimings>>('timings', {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bootLineMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        healthWindowMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        watchdogMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        trialTries: { type: 'integer', minimum: 1, maximum: 100 },
        appRestartMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        recoveryEraseMs: { type: 'integer', minimum: 0, maximum: 120_000 },
      },
    },
    handler: (timings) => {
      Object.assign(board.timings, timings);
      return { timings: board.timings };
    },
  });
  server.register<{ speed: 'fast' | 'real' }>('speed', {
    schema: { type: 'object', additionalProperties: false, required: ['speed'], properties: { speed: { enum: ['fast', 'real'] } } },
    handler: ({ speed }) => {
      board.setSpeed(speed);
      for (const uart of uarts) uart.timing = speed;
      return { speed, timings: board.timings };
    },
  });

  // ---- what the cloud would deliver, and what it would collect
  server.register<{ images: string[] }>('install', {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['images'],
      properties: { images: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', maxLength: 16 * 1024 * 1024 } } },
    },
    handler: async ({ images }) => {
      const result = await board.install(images.map((b) => Buffer.from(b, 'base64')));
      // Flash operations the install itself took: what a power-cut sweep needs to know.
      return { ...result, operationsSinceMark: board.storage.flash.operationsSinceMark };
    },
  });
  server.register<{ value: boolean }>('ota-in-progress', {
    schema: { type: 'object', additionalProperties: false, required: ['value'], properties: { value: { type: 'boolean' } } },
    handler: ({ value }) => {
      board.otaInProgress = value;
      return { otaInProgress: value };
    },
  });
  server.register('error-report', { schema: none, handler: () => ({ ...board.reports.report() }) });
  // For fault sweeps: wait out the boot and any trial, as the board's own bookkeeping sees it.
  server.register<{ timeoutMs?: number }>('await-settled', {
    schema: { type: 'object', additionalProperties: false, properties: { timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 } } },
    handler: ({ timeoutMs }, { signal }) => awaitSettled(board, timeoutMs ?? 600_000, signal),
  });
  // Stands for a board fresh from the factory: no capability image installed.
  server.register('clear-capability', {
    schema: none,
    handler: () => {
      board.chip.capabilityImage = null;
      board.saveChip();
      return { capabilities: board.capabilities() };
    },
  });

  board.on('state', (state) => server.broadcast('state', { state }));
  board.on('power-cut', ({ operation }) => server.broadcast('power-cut', { operation }));
}
