import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { ConsoleError, type ConsoleLine } from '../../src/device/console-history.js';
import { ContinuousConsole } from '../../src/device/continuous-console.js';

class Source extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  closed = false;
  say(text: string): void {
    this.emit('line', { seq: 99, timestamp: 1_700_000_000_000, text });
  }
  async close(): Promise<void> {
    this.closed = true;
    this.emit('close');
  }
}

/** One line history over changing serial sources. */
describe('a continuous console over replaced UARTs', () => {
  it('numbers lines itself, across sources, and keeps their arrival time', () => {
    const console = new ContinuousConsole('bench-1');
    const first = new Source();
    console.attach(first);
    first.say('one');
    const second = new Source();
    console.attach(second);
    first.say('from the old source: ignored');
    second.say('two');
    expect(console.lines().map((l) => [l.seq, l.text, l.timestamp])).to.deep.equal([
      [1, 'one', 1_700_000_000_000],
      [2, 'two', 1_700_000_000_000],
    ]);
    expect(console.lines(2).map((l) => l.text)).to.deep.equal(['two']);
    expect(console.mark()).to.equal(3);
  });

  it('a source that closes by itself is let go; the history and pending expects stay', async () => {
    const console = new ContinuousConsole('bench-1');
    const source = new Source();
    console.attach(source);
    const waiting = console.expect(/ready$/, { timeoutMs: 1_000 });
    await source.close();
    expect(console.attached).to.equal(false);
    const next = new Source();
    console.attach(next);
    next.say('board ready');
    expect((await waiting).seq).to.equal(1);
  });

  it('keeps the recovery and debug UARTs apart: each line tagged, each channel attached and detached on its own', async () => {
    const console = new ContinuousConsole('bench-1', { channels: ['recovery-uart', 'debug-uart'] });
    const debug = new Source();
    const recovery = new Source();
    console.attach(debug);
    console.attach(recovery, 'recovery-uart');
    recovery.say('[1BL] BOOT: 70900000/00000001/01000000');
    debug.say('diagnostics');
    expect(console.lines().map((l) => [l.channel, l.text])).to.deep.equal([
      ['recovery-uart', '[1BL] BOOT: 70900000/00000001/01000000'],
      ['debug-uart', 'diagnostics'],
    ]);
    // A recovery takes the recovery UART: the debug UART stays, and an expect on the recovery UART says what is missing.
    await console.detach('recovery-uart');
    expect(recovery.closed).to.equal(true);
    expect([console.attached, console.isAttached('recovery-uart')]).to.deep.equal([true, false]);
    const error = await console.expect('x', { timeoutMs: 20, channels: ['recovery-uart'] }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).to.contain('not attached right now: recovery-uart');
    expect(console.channels()).to.deep.equal(['recovery-uart', 'debug-uart']);
  });

  it('an expect that runs out while no UART is attached says so', async () => {
    const console = new ContinuousConsole('bench-1');
    const error = await console.expect('never', { timeoutMs: 20 }).then(() => undefined, (e: unknown) => e);
    expect(error).to.deep.include({ failureClass: 'timeout', code: 'console-expect-timeout' });
    expect((error as Error).message).to.contain('not attached right now: debug-uart');
  });

  it('close fails pending expects, closes the source and refuses later sources', async () => {
    const console = new ContinuousConsole('bench-1');
    const source = new Source();
    console.attach(source);
    const waiting = console.expect('x', { timeoutMs: 5_000 });
    await console.close();
    expect(await waiting.then(() => undefined, (e: unknown) => e)).to.deep.include({ code: 'console-closed' });
    expect(source.closed).to.equal(true);
    const late = new Source();
    console.attach(late);
    expect(late.closed).to.equal(true);
  });

  it('keeps the last maxLines lines, dropping the oldest', () => {
    const console = new ContinuousConsole('bench-1', { maxLines: 100 });
    const source = new Source();
    console.attach(source);
    for (let i = 1; i <= 1_000; i += 1) source.say(`line ${i}`);
    const kept = console.lines();
    expect(kept.length).to.equal(100);
    expect(kept[0]).to.deep.include({ seq: 901, text: 'line 901' });
    expect(kept.at(-1)).to.deep.include({ seq: 1_000, text: 'line 1000' });
    expect(console.lines(995).map((l) => l.seq)).to.deep.equal([995, 996, 997, 998, 999, 1000]);
  });

  it('refuses a maxLines that is not a positive integer, naming it', () => {
    for (const maxLines of [0, 1.5, -1]) {
      let error: unknown;
      try {
        new ContinuousConsole('bench-1', { maxLines });
      } catch (e) {
        error = e;
      }
      expect(error, `maxLines ${maxLines}`).to.be.instanceOf(ConsoleError);
      expect((error as ConsoleError).code).to.equal('invalid-max-lines');
      expect((error as ConsoleError).failureClass).to.equal('infra-error');
      expect((error as ConsoleError).message).to.equal(`console bench-1: maxLines must be a positive integer, got ${maxLines}`);
    }
  });
});
