import type { Board, BoardInfo } from '../../device/board.js';
import { osVersionOfSet } from '../../image/boot-manifest.js';
import { RigError } from '../../util/failure.js';
import { defineStep, type StepContext } from '../step-type.js';

/**
 * Power cut before flash operation i of an OS update, for every i (or an evenly
 * spread sample): after each cut the board must come back on a complete set,
 * the old one before the switch and the new one after it, never bricked.
 * Needs an emulated board (flash operation counting is an emulator control).
 */
interface SweepInfo extends BoardInfo {
  trial?: boolean;
}

/** The board once its boot and any update trial are over, or bricked. */
async function settled(board: Board, context: StepContext): Promise<SweepInfo> {
  const info = (await board.fault({ kind: 'await-settled' }, { signal: context.signal, timeoutMs: context.remainingMs() })) as unknown as SweepInfo;
  // The emulator's own word for stuck in ROM without a bootable set.
  if ((info.state as string) === 'rom-wait') {
    throw new RigError('test-failed', 'bricked', `board is stuck in ROM after a power cut: no bootable image set`);
  }
  return info;
}

function waitForState(board: Board, state: string, signal: AbortSignal): Promise<void> {
  if (board.state() === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onState = (s: string) => {
      if (s !== state) return;
      board.off('state', onState);
      resolve();
    };
    board.on('state', onState);
    signal.addEventListener('abort', () => (board.off('state', onState), reject(signal.reason)), { once: true });
  });
}

/** `count` cut points spread over 1..total, always including the first and the last. */
export function sampleCutPoints(total: number, count: number | undefined): number[] {
  if (!count || count >= total) return Array.from({ length: total }, (_, i) => i + 1);
  const points = new Set<number>();
  for (let k = 0; k < count; k++) points.add(1 + Math.round((k * (total - 1)) / Math.max(1, count - 1)));
  return [...points].sort((a, b) => a - b);
}

export const powerCutSweepStep = defineStep<{ from: string; to: string; sample?: number | null; healthWindowMs?: number }>({
  type: 'power-cut-sweep',
  needsPower: true,
  description: 'Install OS artefact `to` (then back to `from`) with power cut before each flash operation; the board must always boot a complete set',
  schema: {
    required: ['from', 'to'],
    properties: {
      from: { type: 'string' },
      to: { type: 'string' },
      sample: { type: ['integer', 'null'], minimum: 1 },
      healthWindowMs: { type: 'integer', minimum: 0 },
    },
  },
  defaultTimeoutMs: 30 * 60_000,
  run: async (p, context) => {
    const { board } = context;
    const sets = { [p.from]: context.run.artefact(p.from).images, [p.to]: context.run.artefact(p.to).images };
    const versionOf = (name: string) => osVersionOfSet(sets[name]!) ?? 'unknown';
    const versions = { [versionOf(p.from)]: p.from, [versionOf(p.to)]: p.to };
    if (Object.keys(versions).length !== 2) throw new RigError('infra-error', 'bad-params', 'from and to must carry different OS versions');
    const options = () => ({ signal: context.signal, timeoutMs: context.remainingMs() });
    await board.fault({ kind: 'timings', timings: { healthWindowMs: p.healthWindowMs ?? 20, watchdogMs: 20 } }, options());
    let info = await settled(board, context);
    const otherThan = (version: string | null) => (version === (Object.keys(versions)[0] ?? '') ? Object.keys(versions)[1]! : Object.keys(versions)[0]!);

    // A clean run counts the operations and where the switch falls.
    await board.fault({ kind: 'flash-mark' }, options());
    const clean = await board.otaInstall(sets[versions[otherThan(info.osVersion)]!]!, options());
    const switchAt = Number(clean.operationsSinceMark);
    info = await settled(board, context);
    const total = Number((info as { flash?: { operationsSinceMark?: number } }).flash?.operationsSinceMark ?? 0);
    if (!total || !switchAt) throw new RigError('not-applicable', 'no-flash-counts', 'this board does not report flash operation counts');
    const points = sampleCutPoints(total, p.sample ?? undefined);
    for (const point of points) {
      const current = info.osVersion!;
      const target = otherThan(current);
      await board.fault({ kind: 'flash-mark' }, options());
      await board.fault({ kind: 'power-cut', beforeOperation: point }, options());
      const off = waitForState(board, 'off', context.signal);
      await board.otaInstall(sets[versions[target]!]!, options()).catch(() => undefined);
      await off;
      await board.power(true, options());
      info = await settled(board, context);
      const expected = point <= switchAt ? current : target;
      if (info.osVersion !== expected) {
        throw new RigError('test-failed', 'wrong-set-after-cut', `cut before flash operation ${point} of ${total} (switch at ${switchAt}): board runs ${info.osVersion}, expected ${expected}`);
      }
    }
    context.measure('flash operations per update', total);
    context.measure('cut points checked', points.length, { min: 1 });
    context.note(`checked ${points.length} of ${total} cut points; switch after operation ${switchAt}`);
  },
});
