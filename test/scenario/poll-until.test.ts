import { expect } from 'chai';
import { pollUntil } from '../../src/scenario/steps/poll-until.js';
import { RigError } from '../../src/util/failure.js';

const unreachable = () => new RigError('infra-error', 'device-unreachable', 'GET /telemetry: cannot reach the device (ECONNRESET)');

describe('asking a board again until the answer is right (pollUntil)', () => {
  it('asks again while the device cannot be reached (it is restarting), within the time given', async () => {
    const answers: Array<() => number> = [() => { throw unreachable(); }, () => 1, () => 2];
    let asked = 0;
    const answer = await pollUntil(async () => answers[asked++]!(), (n) => n === 2, { withinMs: 10_000, signal: new AbortController().signal });
    expect([answer, asked]).to.deep.equal([2, 3]);
  });

  it('lets an unreachable device stand once the time is up, and never hides other errors', async () => {
    const late = await pollUntil(async () => { throw unreachable(); }, () => true, { withinMs: 0, signal: new AbortController().signal }).then(() => undefined, (e: unknown) => e);
    expect(late).to.deep.include({ code: 'device-unreachable' });
    let asked = 0;
    const refused = await pollUntil(async () => { asked++; throw new RigError('test-failed', 'refused', 'permission denied'); }, () => true, { withinMs: 10_000, signal: new AbortController().signal }).then(() => undefined, (e: unknown) => e);
    expect([refused instanceof RigError && refused.code, asked]).to.deep.equal(['refused', 1]);
  });
});
