import { expect } from 'chai';
import type { RunSummary, Verdict } from '../../src/dashboard/api-types.js';
import { bucketSizeFor, flakyScenarios, groupStats, infraBoards, passRateOverTime } from '../../src/dashboard/history-stats.js';

let clock = Date.parse('2026-11-20T10:00:00Z');
function run(scenario: string, boardId: string, verdict: Verdict, minutesLater = 1, reason: string | null = null): RunSummary {
  clock += minutesLater * 60_000;
  const at = new Date(clock).toISOString();
  return { id: `r${clock}`, scenario, boardId, status: 'finished', verdict, reason, queuedAt: at, startedAt: at, endedAt: at, kind: 'scenario' };
}
function healthCheck(boardId: string, verdict: Verdict, reason: string | null = null): RunSummary {
  return { ...run('health-check', boardId, verdict, 1, reason), kind: 'health-check' };
}

describe('dashboard history statistics', () => {
  it('counts pass rates over judged runs only, infra errors and cancellations apart', () => {
    const runs = [run('smoke', 'a', 'passed'), run('smoke', 'b', 'test-failed'), run('smoke', 'c', 'infra-error'), run('smoke', 'a', 'cancelled'), run('update', 'a', 'passed')];
    const [smoke, update] = groupStats(runs, 'scenario');
    expect(smoke).to.deep.include({ key: 'smoke', runs: 4, judged: 2, passed: 1, failed: 1, infra: 1, other: 1, passRate: 0.5 });
    expect(smoke!.recent).to.deep.equal(['passed', 'test-failed', 'infra-error', 'cancelled']);
    expect(update).to.deep.include({ key: 'update', passRate: 1 });
    expect(groupStats([run('x', 'a', 'infra-error')], 'board')[0]!.passRate).to.equal(null);
  });

  it('finds flaky scenarios (both passes and test failures) and how often they flip', () => {
    const runs = [
      run('steady', 'a', 'passed'),
      run('steady', 'b', 'passed'),
      run('flaky', 'a', 'passed'),
      run('flaky', 'b', 'test-failed'),
      run('flaky', 'a', 'passed'),
      run('flaky', 'c', 'test-failed'),
      run('broken', 'a', 'test-failed'),
      run('broken', 'a', 'test-failed'),
      run('flaky', 'a', 'infra-error'),
    ];
    const flaky = flakyScenarios(runs);
    expect(flaky.map((f) => f.scenario)).to.deep.equal(['flaky']);
    expect(flaky[0]).to.deep.include({ judged: 4, passed: 2, failed: 2, flips: 3, flipRate: 1 });
    expect(flaky[0]!.failingBoards).to.deep.equal(['b', 'c']);
  });

  it('counts only passes and test failures of scenario runs as flakiness: no rig or board failures, no health checks', () => {
    // Passes broken up only by what the rig or the board did: the test never failed.
    const runs = [
      run('update', 'a', 'passed'),
      run('update', 'b', 'device-fault'),
      run('update', 'a', 'passed'),
      run('update', 'c', 'timeout'),
      run('update', 'a', 'infra-error'),
      run('update', 'a', 'cancelled'),
      run('update', 'a', 'not-applicable'),
      run('update', 'a', 'passed'),
      // Health checks that passed and failed are about the boards.
      healthCheck('a', 'passed'),
      healthCheck('b', 'test-failed'),
      healthCheck('a', 'passed'),
      healthCheck('c', 'infra-error', 'usb gone'),
    ];
    expect(flakyScenarios(runs)).to.deep.equal([]);
    // A real test failure among them makes it flaky, counted over passes and test failures only.
    const flaky = flakyScenarios([...runs, run('update', 'b', 'test-failed')]);
    expect(flaky.map((f) => f.scenario)).to.deep.equal(['update']);
    expect(flaky[0]).to.deep.include({ judged: 4, passed: 3, failed: 1, flips: 1 });
    expect(flaky[0]!.recent).to.deep.equal(['passed', 'passed', 'passed', 'test-failed']);
    // The infra-error view still counts the health check that the rig failed.
    expect(infraBoards(runs).map((b) => [b.boardId, b.infraErrors, b.lastReason])).to.deep.equal([
      ['c', 1, 'usb gone'],
      ['a', 1, null],
    ]);
  });

  it('lists boards with infra errors, most first, with the last reason', () => {
    const runs = [run('s', 'a', 'infra-error', 1, 'usb gone'), run('s', 'a', 'infra-error', 1, 'usb gone again'), run('s', 'a', 'passed'), run('s', 'b', 'infra-error', 1, 'power'), run('s', 'c', 'passed')];
    const boards = infraBoards(runs);
    expect(boards.map((b) => [b.boardId, b.infraErrors, b.runs])).to.deep.equal([
      ['a', 2, 3],
      ['b', 1, 1],
    ]);
    expect(boards[0]!.lastReason).to.equal('usb gone again');
  });

  it('buckets pass rate over time so a chart has at most 24 points per line', () => {
    expect(bucketSizeFor(10 * 60_000)).to.equal(60_000);
    expect(bucketSizeFor(5 * 3_600_000)).to.equal(15 * 60_000);
    expect(bucketSizeFor(10 * 86_400_000)).to.equal(86_400_000);
    const runs = [run('s', 'a', 'passed', 0), run('s', 'a', 'test-failed', 0), run('s', 'a', 'passed', 5), run('t', 'a', 'infra-error', 0)];
    const chart = passRateOverTime(runs, 'scenario')!;
    expect(chart.bucketMs).to.equal(60_000);
    expect(chart.series.map((s) => s.key)).to.deep.equal(['s']);
    expect(chart.series[0]!.points.map((p) => [p.passed, p.judged, p.rate])).to.deep.equal([
      [1, 2, 0.5],
      [1, 1, 1],
    ]);
    expect(passRateOverTime([run('t', 'a', 'cancelled')], 'board')).to.equal(null);
  });
});
