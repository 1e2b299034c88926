import type { RunSummary } from './api-types.js';

/**
 * How long a run took, in ms; for a run that has not ended, how long it has
 * been running at `now` when given, else null (a list row drawn once should
 * not show a time that stops counting). Null before it started.
 */
export function runDurationMs(run: Pick<RunSummary, 'startedAt' | 'endedAt'>, now?: number): number | null {
  if (!run.startedAt) return null;
  const ended = run.endedAt ? Date.parse(run.endedAt) : now;
  return ended === undefined ? null : ended - Date.parse(run.startedAt);
}
