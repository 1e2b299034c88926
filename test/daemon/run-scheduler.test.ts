import { expect } from 'chai';
import { OfflineBoard } from '../../src/device/offline-board.js';
import { RunScheduler } from '../../src/daemon/run-scheduler.js';
import type { RunRecord } from '../../src/scenario/run-record.js';
import { parseScenario } from '../../src/scenario/scenario.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';

/** The run queue on its own: what stopping the daemon does to runs that never started. */
describe('run scheduler', () => {
  it('ends the runs still queued when it closes: cancelled, saved and announced', async () => {
    const board = new OfflineBoard({ id: 'b1', driver: 'mt3620', tags: [], tenant: null, deviceId: null, usbSerial: null }, 'not attached');
    const library = new StepLibrary(BUILTIN_STEPS);
    const saved: RunRecord[] = [];
    const ended: string[] = [];
    const scheduler = new RunScheduler({
      boards: () => new Map([['b1', board]]),
      library,
      services: () => ({ signingKeys: async () => [], workDir: '/nonexistent' }),
      persist: (record) => saved.push(structuredClone(record)),
      observer: { runEnded: (record) => ended.push(record.id) },
    });
    // A manual lease holds the board: the run waits in the queue.
    scheduler.leases.acquire('b1', 'someone', 'manual');
    const [queued] = scheduler.submit({ boardId: 'b1', scenario: parseScenario('name: wait\nsteps:\n  - type: wait\n    ms: 10\n', 'wait.yaml', library) });
    expect(scheduler.queued('b1').map((r) => r.id)).to.deep.equal([queued!.id]);
    await scheduler.close();
    expect(scheduler.queued('b1')).to.deep.equal([]);
    expect(ended).to.deep.equal([queued!.id]);
    expect(saved.at(-1)).to.deep.include({ id: queued!.id, status: 'finished', verdict: 'cancelled', reason: 'cancelled before it started: the daemon stopped' });
  });
});
