import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Board } from '../../src/device/board.js';
import type { ConsoleLine } from '../../src/device/console-history.js';
import { ContinuousConsole } from '../../src/device/continuous-console.js';
import type { RunContext } from '../../src/scenario/run-context.js';
import type { StepContext } from '../../src/scenario/step-type.js';
import { expectConsoleStep } from '../../src/scenario/steps/expect-steps.js';
import { RigError } from '../../src/util/failure.js';

/** A serial source a test writes lines into. */
class Lines extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  #seq = 0;
  say(text: string): void {
    this.emit('line', { seq: ++this.#seq, timestamp: Date.now(), text });
  }
  async close(): Promise<void> {}
}

function boardWith(channels: string[]): { board: Board; sources: Record<string, Lines> } {
  const console = new ContinuousConsole('emu-1', { channels });
  const sources: Record<string, Lines> = {};
  for (const channel of channels) console.attach((sources[channel] = new Lines()), channel);
  const board = { identity: { id: 'emu-1', driver: 'emulated' }, console } as unknown as Board;
  return { board, sources };
}

function contextFor(board: Board): StepContext {
  const run = { stepConsoleMarks: [1, 1], runConsoleMark: 1 } as unknown as RunContext;
  return { board, signal: new AbortController().signal, run, remainingMs: () => 200, measure: () => true, matched: () => undefined, note: () => undefined } as unknown as StepContext;
}

describe('expect-console judges a board by the outputs a real board has', () => {
  it('never matches a line of the emulator-only trace unless asked for that channel', async () => {
    const { board, sources } = boardWith(['recovery-uart', 'debug-uart', 'emulator-trace']);
    sources['emulator-trace']!.say('[OS] services up');
    const missed = await expectConsoleStep.run({ pattern: 'services up' }, contextFor(board)).then(() => undefined, (e: unknown) => e);
    expect(missed).to.deep.include({ failureClass: 'timeout', code: 'console-expect-timeout' });
    await expectConsoleStep.run({ pattern: 'services up', absent: true }, contextFor(board));
    await expectConsoleStep.run({ pattern: 'services up', channel: 'emulator-trace' }, contextFor(board));
    sources['recovery-uart']!.say('[PLUTON] Booting HLOS core');
    await expectConsoleStep.run({ pattern: 'Booting HLOS core' }, contextFor(board));
  });

  it('ends not-applicable when asked for the trace on a board without one, and infra-error for a channel the board lacks', async () => {
    const { board } = boardWith(['recovery-uart', 'debug-uart']);
    const trace = await expectConsoleStep.run({ pattern: 'x', channel: 'emulator-trace' }, contextFor(board)).then(() => undefined, (e: unknown) => e);
    expect(trace).to.be.instanceOf(RigError);
    expect(trace).to.deep.include({ failureClass: 'not-applicable' });
    const uart = await expectConsoleStep.run({ pattern: 'x', channel: 'app-uart:sensor' }, contextFor(board)).then(() => undefined, (e: unknown) => e);
    expect(uart).to.deep.include({ failureClass: 'infra-error', code: 'no-such-channel' });
  });
});
