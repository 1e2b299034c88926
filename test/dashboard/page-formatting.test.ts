import { expect } from 'chai';
import { abbreviateIds, formatDuration, shortId } from '../../src/dashboard/format.js';
import { progressOf } from '../../src/dashboard/step-progress.js';
import { consoleFileName, consoleText } from '../../src/dashboard/views/console-download.js';

describe('dashboard formatting and step progress', () => {
  it('reads progress from step notes, counting down "to go" notes', () => {
    expect(progressOf('recovering: 3 of 10 images to go')).to.deep.equal({ done: 7, total: 10, fraction: 0.7 });
    expect(progressOf('checked 12 of 40 cut points; switch after operation 7')).to.deep.equal({ done: 12, total: 40, fraction: 0.3 });
    expect(progressOf('recovered to OS 25.01')).to.equal(null);
    expect(progressOf('11 of 10 done')).to.equal(null);
    expect(progressOf(null)).to.equal(null);
  });

  it('shortens identifiers for narrow places and keeps short ones whole', () => {
    expect(shortId('9847171344d410dfecb63441603fc19e36c137b7', 8, 4)).to.equal('98471713…37b7');
    expect(shortId('emu-1')).to.equal('emu-1');
    expect(abbreviateIds('[APP] 7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b: tick 7')).to.equal('[APP] 7e8f9a0b…: tick 7');
    expect(abbreviateIds('[OS] verified Services a948f8e4-65ed-45d9-aa8b-2abe472badaf')).to.equal('[OS] verified Services a948f8e4…');
    expect(abbreviateIds('[DAA] certificate 65a9ac6da9ccb4ac34c409ebb7d098be ok')).to.equal('[DAA] certificate 65a9ac6d… ok');
  });

  it('writes durations at a useful precision', () => {
    expect(formatDuration(null)).to.equal('—');
    expect(formatDuration(850)).to.equal('850 ms');
    expect(formatDuration(4_250)).to.equal('4.25 s');
    expect(formatDuration(125_000)).to.equal('2 min 05 s');
    expect(formatDuration(2 * 3_600_000 + 3 * 60_000)).to.equal('2 h 03 min');
  });

  it('names a downloaded board console <board>-console-<time>.txt, one timestamped line each', () => {
    expect(consoleFileName('emu-1', new Date('2026-11-20T10:03:27.512Z'))).to.equal('emu-1-console-2026-11-20T10-03-27Z.txt');
    expect(consoleFileName('odd/name', new Date('2026-11-20T10:03:27Z'))).to.equal('odd_name-console-2026-11-20T10-03-27Z.txt');
    expect(consoleText([{ seq: 1, timestamp: Date.parse('2026-11-20T10:00:00Z'), text: '[OS] services up' }])).to.equal('2026-11-20T10:00:00.000Z [OS] services up\n');
  });
});
