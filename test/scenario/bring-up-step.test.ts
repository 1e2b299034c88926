import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Board, BoardInfo, BoardState } from '../../src/device/board.js';
import { ConsoleHistory } from '../../src/device/console-history.js';
import type { StepContext } from '../../src/scenario/step-type.js';
import type { RunContext } from '../../src/scenario/run-context.js';
import { bringUpStep } from '../../src/scenario/steps/bring-up-step.js';
import { RigError } from '../../src/util/failure.js';

/**
 * A real MT3620 tells the rig only whether its REST API answers: the driver's
 * state is `unknown` when it never did after a boot. This stands for such a
 * board: a reset makes it boot again, and whether it then answers is the test's
 * choice. Everything the step does not use throws.
 */
class SilentBoard extends EventEmitter<{ state: [state: BoardState] }> {
  readonly identity = { id: 'bench-1', driver: 'mt3620' as const, deviceId: null, usbSerial: 'AS1', tags: [], tenant: null };
  readonly console = new ConsoleHistory('bench-1', { maxLines: 10 });
  readonly actions: string[] = [];
  #state: BoardState = 'unknown';

  constructor(private readonly answersAfterReset: boolean) {
    super();
  }

  state(): BoardState {
    return this.#state;
  }

  async info(): Promise<BoardInfo> {
    return { state: this.#state, osVersion: null, deviceId: null, apps: [] };
  }

  async setRecoveryStrap(high: boolean): Promise<void> {
    this.actions.push(`strap ${high ? 'high' : 'low'}`);
  }

  async reset(): Promise<void> {
    this.actions.push('reset');
    this.#set('booting');
    // The driver's own poll decides later: ready when the API answers, unknown when it never does.
    setImmediate(() => this.#set(this.answersAfterReset ? 'ready' : 'unknown'));
  }

  restEndpoint(): undefined {
    return undefined;
  }

  #set(state: BoardState): void {
    this.#state = state;
    this.emit('state', state);
  }
}

function contextFor(board: SilentBoard, baselineOsVersion?: string): StepContext & { notes: string[] } {
  const notes: string[] = [];
  const run = { services: { baselineOsVersion } } as unknown as RunContext;
  return {
    board: board as unknown as Board,
    signal: new AbortController().signal,
    run,
    remainingMs: () => 60_000,
    measure: () => true,
    matched: () => undefined,
    note: (message: string) => notes.push(message),
    notes,
  } as unknown as StepContext & { notes: string[] };
}

describe('bring-up on a board that tells nothing but whether its API answers (a real MT3620)', () => {
  it('resets a board that never answered, and passes once it answers', async () => {
    const board = new SilentBoard(true);
    const context = contextFor(board);
    await bringUpStep.run({}, context);
    expect(board.actions).to.deep.equal(['strap low', 'reset']);
    expect(context.notes.at(-1)).to.equal('services up after: reset (it was not answering)');
  });

  it('ends device-fault, at once and saying why, when it still does not answer and the rig has no baseline to recover it with', async () => {
    const board = new SilentBoard(false);
    const error = await bringUpStep.run({}, contextFor(board)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RigError);
    expect(error).to.deep.include({ failureClass: 'device-fault', code: 'no-baseline' });
    expect(board.actions).to.deep.equal(['strap low', 'reset']);
  });
});
