import type { RunSummary, Verdict } from './api-types.js';

/**
 * What the history page computes from run summaries: pass rates per scenario
 * and per board (overall and over time), flaky scenarios, and boards the rig
 * itself keeps failing on. A run counts towards a pass rate only when it was
 * judged: infra errors (the rig failed, not the board), cancellations and
 * not-applicable runs are counted on their own. Flakiness is stricter still
 * (countsTowardsFlakiness).
 */
export type GroupBy = 'scenario' | 'board';

const JUDGED: ReadonlySet<Verdict> = new Set<Verdict>(['passed', 'test-failed', 'device-fault', 'timeout']);

export function isJudged(verdict: Verdict | null): boolean {
  return verdict !== null && JUDGED.has(verdict);
}

/** When a run happened, for charts: when it ended, else started, else was queued. */
export function runTime(run: RunSummary): number {
  return Date.parse(run.endedAt ?? run.startedAt ?? run.queuedAt ?? '') || 0;
}

export interface GroupStats {
  key: string;
  runs: number;
  judged: number;
  passed: number;
  failed: number;
  infra: number;
  other: number;
  /** passed / judged, null when nothing was judged */
  passRate: number | null;
  /** Verdicts oldest first, at most the last 20. */
  recent: Verdict[];
}

export function groupStats(runs: readonly RunSummary[], by: GroupBy): GroupStats[] {
  const groups = new Map<string, GroupStats>();
  for (const run of chronological(runs)) {
    if (run.status !== 'finished' || !run.verdict) continue;
    const key = by === 'scenario' ? run.scenario : run.boardId;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, runs: 0, judged: 0, passed: 0, failed: 0, infra: 0, other: 0, passRate: null, recent: [] }));
    g.runs++;
    if (run.verdict === 'passed') g.passed++;
    else if (run.verdict === 'infra-error') g.infra++;
    else if (isJudged(run.verdict)) g.failed++;
    else g.other++;
    if (isJudged(run.verdict)) g.judged++;
    g.recent.push(run.verdict);
    if (g.recent.length > 20) g.recent.shift();
  }
  for (const g of groups.values()) g.passRate = g.judged ? g.passed / g.judged : null;
  return [...groups.values()].sort((a, b) => b.runs - a.runs || a.key.localeCompare(b.key));
}

export interface FlakyScenario {
  scenario: string;
  /** Runs that passed or failed their test (health checks and rig or board failures left out). */
  judged: number;
  passed: number;
  failed: number;
  /** How often consecutive counted runs changed between pass and fail. */
  flips: number;
  flipRate: number;
  /** Boards on which it failed. */
  failingBoards: string[];
  recent: Verdict[];
}

/**
 * Whether a run tells about a scenario's flakiness: only a pass or a test
 * failure says what the product did. Infra errors, device faults, timeouts,
 * cancellations and not-applicable runs say more about the rig or the board
 * (the infra-error view counts those), and health checks test the board, not
 * the product.
 */
export function countsTowardsFlakiness(run: Pick<RunSummary, 'kind' | 'verdict'>): boolean {
  return run.kind !== 'health-check' && (run.verdict === 'passed' || run.verdict === 'test-failed');
}

/** Scenarios that both passed and failed their tests (see countsTowardsFlakiness), the most erratic first. */
export function flakyScenarios(runs: readonly RunSummary[]): FlakyScenario[] {
  const byScenario = new Map<string, RunSummary[]>();
  for (const run of chronological(runs)) {
    if (run.status !== 'finished' || !countsTowardsFlakiness(run)) continue;
    const list = byScenario.get(run.scenario) ?? [];
    list.push(run);
    byScenario.set(run.scenario, list);
  }
  const flaky: FlakyScenario[] = [];
  for (const [scenario, list] of byScenario) {
    const passed = list.filter((r) => r.verdict === 'passed').length;
    const failed = list.length - passed;
    if (!passed || !failed) continue;
    let flips = 0;
    for (let i = 1; i < list.length; i++) if ((list[i]!.verdict === 'passed') !== (list[i - 1]!.verdict === 'passed')) flips++;
    const failingBoards = [...new Set(list.filter((r) => r.verdict !== 'passed').map((r) => r.boardId))].sort();
    flaky.push({ scenario, judged: list.length, passed, failed, flips, flipRate: flips / (list.length - 1), failingBoards, recent: list.slice(-20).map((r) => r.verdict!) });
  }
  return flaky.sort((a, b) => b.flipRate - a.flipRate || b.judged - a.judged);
}

export interface InfraBoard {
  boardId: string;
  runs: number;
  infraErrors: number;
  rate: number;
  lastReason: string | null;
  lastAt: number;
}

/** Boards with runs that ended in infra errors, the most affected first. */
export function infraBoards(runs: readonly RunSummary[]): InfraBoard[] {
  const boards = new Map<string, InfraBoard>();
  for (const run of chronological(runs)) {
    if (run.status !== 'finished') continue;
    let b = boards.get(run.boardId);
    if (!b) boards.set(run.boardId, (b = { boardId: run.boardId, runs: 0, infraErrors: 0, rate: 0, lastReason: null, lastAt: 0 }));
    b.runs++;
    if (run.verdict === 'infra-error') {
      b.infraErrors++;
      b.lastReason = run.reason;
      b.lastAt = runTime(run);
    }
  }
  const affected = [...boards.values()].filter((b) => b.infraErrors > 0);
  for (const b of affected) b.rate = b.infraErrors / b.runs;
  return affected.sort((a, b) => b.infraErrors - a.infraErrors || b.rate - a.rate);
}

const BUCKETS_MS = [60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

/** The smallest bucket that spreads `spanMs` over at most `maxBuckets` points. */
export function bucketSizeFor(spanMs: number, maxBuckets = 24): number {
  return BUCKETS_MS.find((size) => spanMs / size <= maxBuckets) ?? BUCKETS_MS[BUCKETS_MS.length - 1]!;
}

export interface SeriesPoint {
  /** Bucket start, ms since the epoch. */
  at: number;
  passed: number;
  judged: number;
  rate: number | null;
}

export interface PassRateSeries {
  key: string;
  judged: number;
  points: SeriesPoint[];
}

export interface PassRateChartData {
  start: number;
  end: number;
  bucketMs: number;
  series: PassRateSeries[];
}

/** Pass rate per bucket of time for each scenario (or board); buckets without judged runs have no point. */
export function passRateOverTime(runs: readonly RunSummary[], by: GroupBy, maxSeries = 6): PassRateChartData | null {
  const judged = runs.filter((r) => r.status === 'finished' && isJudged(r.verdict));
  if (!judged.length) return null;
  const times = judged.map(runTime);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const bucketMs = bucketSizeFor(Math.max(last - first, 1));
  const start = Math.floor(first / bucketMs) * bucketMs;
  const end = Math.floor(last / bucketMs) * bucketMs + bucketMs;
  const groups = new Map<string, Map<number, SeriesPoint>>();
  const counts = new Map<string, number>();
  judged.forEach((run, i) => {
    const key = by === 'scenario' ? run.scenario : run.boardId;
    const at = Math.floor(times[i]! / bucketMs) * bucketMs;
    let buckets = groups.get(key);
    if (!buckets) groups.set(key, (buckets = new Map()));
    let point = buckets.get(at);
    if (!point) buckets.set(at, (point = { at, passed: 0, judged: 0, rate: null }));
    point.judged++;
    if (run.verdict === 'passed') point.passed++;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  const series = [...groups.entries()]
    .map(([key, buckets]) => ({
      key,
      judged: counts.get(key) ?? 0,
      points: [...buckets.values()].sort((a, b) => a.at - b.at).map((p) => ({ ...p, rate: p.passed / p.judged })),
    }))
    .sort((a, b) => b.judged - a.judged || a.key.localeCompare(b.key))
    .slice(0, maxSeries);
  return { start, end, bucketMs, series };
}

function chronological(runs: readonly RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => runTime(a) - runTime(b));
}
