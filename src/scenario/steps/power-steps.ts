import { defineStep } from '../step-type.js';

/** The power switch and the FTDI pins: what every rig can do to every board. */
export const powerStep = defineStep<{ on: boolean }>({
  type: 'power',
  description: 'Switch the board power on or off',
  schema: { required: ['on'], properties: { on: { type: 'boolean' } } },
  defaultTimeoutMs: 30_000,
  run: ({ on }, { board, signal, remainingMs }) => board.power(on, { signal, timeoutMs: remainingMs() }),
});

export const powerCycleStep = defineStep<{ offMs?: number }>({
  type: 'power-cycle',
  description: 'Power off, wait offMs (default 200), power on',
  schema: { properties: { offMs: { type: 'integer', minimum: 0, maximum: 600_000 } } },
  defaultTimeoutMs: 60_000,
  run: async ({ offMs }, { board, signal, remainingMs }) => {
    await board.power(false, { signal, timeoutMs: remainingMs() });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, offMs ?? 200);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
    });
    await board.power(true, { signal, timeoutMs: remainingMs() });
  },
});

export const resetStep = defineStep<Record<string, never>>({
  type: 'reset',
  needsPower: true,
  description: 'Pulse the reset line (SYSRST_N)',
  schema: { properties: {} },
  defaultTimeoutMs: 30_000,
  run: (_params, { board, signal, remainingMs }) => board.reset({ signal, timeoutMs: remainingMs() }),
});

export const strapStep = defineStep<{ recovery: boolean }>({
  type: 'strap',
  description: 'Set the recovery strap (DEBUG_RTS), sampled at the next reset',
  schema: { required: ['recovery'], properties: { recovery: { type: 'boolean' } } },
  defaultTimeoutMs: 30_000,
  run: ({ recovery }, { board, signal, remainingMs }) => board.setRecoveryStrap(recovery, { signal, timeoutMs: remainingMs() }),
});

export const waitStep = defineStep<{ ms: number }>({
  type: 'wait',
  description: 'Wait a fixed time (prefer expect-* steps, which wait for an event)',
  schema: { required: ['ms'], properties: { ms: { type: 'integer', minimum: 0, maximum: 86_400_000 } } },
  defaultTimeoutMs: 86_400_000,
  run: ({ ms }, { signal }) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
    }),
});
