import { expect } from 'chai';
import { durationBetween, formatDuration, formatEventLine } from '../../src/cli/event-lines.js';
import type { StreamEvent } from '../../src/cli/event-stream-client.js';

/** What `sphere-rig watch` prints for each event type: one readable line, never the raw JSON. */
describe('the CLI event lines', () => {
  const RUN = '3f2a9c1e-0000-4000-8000-000000000001';
  const event = (type: string, payload: Record<string, unknown>, topic = 'run:x'): StreamEvent => ({ seq: 7, topic, type, time: '2026-11-21T20:01:02.345Z', payload });

  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['board.state', { boardId: 'emu-1', from: 'booting', to: 'ready', reason: null }, '20:01:02.345 emu-1 state booting -> ready'],
    ['board.health', { boardId: 'emu-1', from: 'good', to: 'bad', reason: 'health check failed: services up: timed out' }, '20:01:02.345 emu-1 health good -> bad: health check failed: services up: timed out'],
    ['run.queued', { runId: RUN, scenario: 'boot-smoke', boardId: 'emu-2', requestedBy: 'ci' }, `20:01:02.345 run 3f2a9c1e queued boot-smoke on emu-2 by ci (${RUN})`],
    ['run.waiting', { runId: RUN, boardId: 'emu-2', reason: 'leased by manual:alice until 12:03:00Z' }, '20:01:02.345 run 3f2a9c1e waiting for emu-2: leased by manual:alice until 12:03:00Z'],
    ['run.started', { runId: RUN, scenario: 'boot-smoke', boardId: 'emu-2' }, '20:01:02.345 run 3f2a9c1e started boot-smoke on emu-2'],
    ['run.ended', { runId: RUN, scenario: 'boot-smoke', boardId: 'emu-2', verdict: 'test-failed', reason: 'kernel verified: no line\nmatched' }, '20:01:02.345 run 3f2a9c1e ended FAIL boot-smoke on emu-2: kernel verified: no line matched'],
    ['step.started', { runId: RUN, index: 2, name: 'kernel verified', type: 'expect-console', attempt: 2 }, '20:01:02.345 run 3f2a9c1e step 2 kernel verified started (attempt 2)'],
    ['step.progress', { runId: RUN, index: 3, name: 'recover', message: 'recovering: 3 of 10 images to go' }, '20:01:02.345 run 3f2a9c1e step 3 recover: recovering: 3 of 10 images to go'],
    ['step.ended', { runId: RUN, index: 2, name: 'kernel verified', verdict: 'passed', durationMs: 72_000, message: null, errorCode: null }, '20:01:02.345 run 3f2a9c1e step 2 kernel verified PASS (1m12s)'],
    [
      'measurement',
      { runId: RUN, stepIndex: 0, measurement: { name: 'os-version', value: '22.11', limits: { equals: '0.0.0' }, passed: false, at: '2026-11-21T20:01:02.345Z' } },
      '20:01:02.345 run 3f2a9c1e step 0 measured os-version = 22.11 (expected 0.0.0) FAIL',
    ],
    ['console.line', { boardId: 'emu-1', uart: 'debug', runId: null, line: { seq: 4, timestamp: 0, text: '[OS] services up' } }, '20:01:02.345 emu-1 | [OS] services up'],
    ['console.line', { boardId: 'emu-1', uart: 'recovery-uart', runId: null, line: { seq: 5, timestamp: 0, text: '[PLUTON] Booting HLOS core', channel: 'recovery-uart' } }, '20:01:02.345 emu-1/recovery-uart | [PLUTON] Booting HLOS core'],
    ['system', { level: 'warn', message: 'event log near its size limit', details: { bytes: 1200, limit: { max: 2000 } } }, '20:01:02.345 system warn: event log near its size limit bytes=1200 limit.max=2000'],
    ['lease.changed', { boardId: 'emu-1', lease: { holder: 'manual:alice', expiresAt: null }, note: 'by hand' }, '20:01:02.345 lease.changed boardId=emu-1 lease.holder=manual:alice lease.expiresAt=- note="by hand"'],
  ];

  for (const [type, payload, line] of cases) {
    it(`${type}: one readable line, no JSON`, () => {
      const text = formatEventLine(event(type, payload));
      expect(text).to.equal(line);
      expect(text).to.not.match(/[{}]/);
    });
  }

  it('formats durations as people read them', () => {
    expect([0, 350, 4_240, 12_900, 72_000, 3_723_000].map(formatDuration)).to.deep.equal(['0ms', '350ms', '4.2s', '12s', '1m12s', '1h02m']);
    expect(formatDuration(null)).to.equal('-');
    expect(durationBetween('2026-11-21T20:00:00.000Z', null)).to.equal('-');
    expect(durationBetween('2026-11-21T20:00:00.000Z', '2026-11-21T20:01:12.000Z')).to.equal('1m12s');
  });
});
