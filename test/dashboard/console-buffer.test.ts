import { expect } from 'chai';
import { ConsoleBuffer } from '../../src/dashboard/console-buffer.js';

const line = (seq: number) => ({ seq, timestamp: 1_000 + seq, text: `line ${seq}` });

describe('dashboard console buffer', () => {
  it('keeps at most its capacity (plus a small slack before trimming), newest last', () => {
    const buffer = new ConsoleBuffer(100);
    for (let seq = 1; seq <= 10_000; seq++) buffer.push(line(seq));
    expect(buffer.size).to.be.within(100, 116);
    expect(buffer.all()[buffer.size - 1]!.text).to.equal('line 10000');
    expect(buffer.dropped + buffer.size).to.equal(10_000);
  });

  it('answers what came after a position, at most the newest n', () => {
    const buffer = new ConsoleBuffer(50);
    for (let seq = 1; seq <= 10; seq++) buffer.push(line(seq));
    const drawn = buffer.lastPos;
    buffer.push(line(11));
    buffer.push(line(12));
    expect(buffer.after(drawn).map((l) => l.seq)).to.deep.equal([11, 12]);
    expect(buffer.after(0, 3).map((l) => l.seq)).to.deep.equal([10, 11, 12]);
    expect(buffer.after(buffer.lastPos)).to.deep.equal([]);
  });

  it('puts older lines fetched later in front, once, and says positions changed', () => {
    const buffer = new ConsoleBuffer(50);
    buffer.push(line(8));
    buffer.push(line(9));
    const generation = buffer.generation;
    buffer.backfill([line(5), line(6), line(7), line(8)]);
    expect(buffer.all().map((l) => l.seq)).to.deep.equal([5, 6, 7, 8, 9]);
    expect(buffer.generation).to.not.equal(generation);
  });

  it('marks where the daemon restarted and its console numbering began again', () => {
    const buffer = new ConsoleBuffer(50);
    buffer.push(line(40));
    buffer.push(line(1));
    expect(buffer.all().map((l) => [l.seq, Boolean(l.note)])).to.deep.equal([
      [40, false],
      [0, true],
      [1, false],
    ]);
  });
});
