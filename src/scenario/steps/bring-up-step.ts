import type { Board, BoardState } from '../../device/board.js';
import { RigError } from '../../util/failure.js';
import { defineStep, type StepContext } from '../step-type.js';
import { buildRecoverySetFor, recoverFrom } from './recovery-steps.js';
import { servicesAnswer } from './services-up.js';

/**
 * Whatever a cancelled or failed run left behind, bring the board back to
 * services up: strap released, powered, reset if hung, recovered over its
 * recovery UART if stuck in ROM, and finally its device REST API answering,
 * which is how a real board shows its services are up. The heart of the rig's
 * health check.
 */
const SETTLED: ReadonlySet<BoardState> = new Set(['off', 'ready', 'hung', 'broken', 'rom-recovery', 'offline', 'unknown']);

/** The board's state once it stops booting (listening first, so a change between the two is not missed). */
async function settledState(board: Board, context: StepContext): Promise<BoardState> {
  return new Promise<BoardState>((resolve, reject) => {
    const done = (error: unknown, state?: BoardState) => {
      board.off('state', onState);
      context.signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(state!);
    };
    const onState = (state: BoardState) => {
      if (SETTLED.has(state)) done(null, state);
    };
    const onAbort = () => done(context.signal.reason);
    board.on('state', onState);
    context.signal.addEventListener('abort', onAbort, { once: true });
    // A board that is off answers nothing (its flash has no power): its state is what we know.
    if (board.state() === 'off') return done(null, 'off');
    board.info({ signal: context.signal, timeoutMs: Math.min(10_000, context.remainingMs()) }).then(
      (info) => {
        if (SETTLED.has(info.state)) done(null, info.state);
      },
      (error: unknown) => (board.state() === 'off' ? done(null, 'off') : done(error)),
    );
  });
}

export const bringUpStep = defineStep<{ recoverTo?: string; recover?: 'if-stuck' | 'always' }>({
  type: 'bring-up',
  description:
    "Bring the board to services up from whatever state it is in: release the recovery strap, power it on if off, reset it if hung, recover it over its recovery UART to the rig's baseline OS (or recoverTo) if it is stuck in ROM (or always, with recover: always); its device REST API must then answer",
  schema: {
    properties: {
      recoverTo: { type: 'string', pattern: '^[0-9]{2}\\.[0-9]{2}$' },
      recover: { enum: ['if-stuck', 'always'], description: 'always: recover to the baseline even a board that boots (default if-stuck: only one stuck in ROM)' },
    },
  },
  defaultTimeoutMs: 10 * 60_000,
  run: async ({ recoverTo, recover }, context) => {
    const { board } = context;
    const options = () => ({ signal: context.signal, timeoutMs: context.remainingMs() });
    if (board.state() === 'offline') throw new RigError('device-fault', 'board-offline', `board ${board.identity.id} is offline: the rig cannot reach it`);
    const did: string[] = [];
    // A strap left high (a recovery cut short) would send every reset to ROM.
    await board.setRecoveryStrap(false, options());
    let state = await settledState(board, context);
    if (state === 'off') {
      await board.power(true, options());
      did.push('powered on');
      state = await settledState(board, context);
    }
    // Hung (the emulator knows), or unknown: a real board that never answered on its REST API
    // after booting tells the rig nothing more, and a reset is what a person at the bench tries.
    if (state === 'hung' || state === 'unknown') {
      const was = state;
      await board.reset(options());
      did.push(`reset (it was ${was === 'hung' ? 'hung' : 'not answering'})`);
      state = await settledState(board, context);
    }
    // Still silent after a reset: as good as stuck in ROM.
    const stuck = state === 'broken' || state === 'rom-recovery' || state === 'unknown';
    if (stuck || (recover === 'always' && state !== 'offline')) {
      const osVersion = recoverTo ?? context.run.services.baselineOsVersion;
      // A rig-signed set only helps a board that trusts the rig's keys (an emulated one); a real
      // board needs Microsoft's recovery images, which the rig does not have.
      if (!osVersion) throw new RigError('device-fault', 'no-baseline', `board is ${state} and the rig has no baseline image set to recover it with; recover it by hand (sphere-rig recover) or give recoverTo`);
      context.note(`board is ${state}: recovering it to OS ${osVersion}`);
      const { dir } = await buildRecoverySetFor(context, osVersion);
      await recoverFrom(context, dir);
      did.push(`recovered to OS ${osVersion} (it was ${state})`);
      state = await settledState(board, context);
    }
    if (state !== 'ready') throw new RigError('device-fault', 'board-not-ready', `board is ${state} after ${did.length ? did.join(', ') : 'waiting for it'}`);
    const osVersion = await servicesAnswer(board, options(), { failureClass: 'device-fault', what: "the board's device REST API does not answer" });
    if (osVersion !== undefined) context.measure('device API answers with an OS version', osVersion.length > 0, { equals: true });
    context.note(did.length ? `services up after: ${did.join(', ')}` : 'services up');
  },
});
