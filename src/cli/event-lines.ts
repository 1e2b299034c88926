import type { StreamEvent } from './event-stream-client.js';

/**
 * How the CLI writes daemon events and run facts for people: one readable line
 * per event, whatever its type (`watch`), and the shared pieces (verdict marks,
 * durations, times) of `run`, `runs` and `boards`. `--json` is for machines.
 */

export const VERDICT_MARK: Record<string, string> = {
  passed: 'PASS',
  'test-failed': 'FAIL',
  'device-fault': 'DEVICE-FAULT',
  'infra-error': 'INFRA-ERROR',
  timeout: 'TIMEOUT',
  cancelled: 'CANCELLED',
  'not-applicable': 'N/A',
};

export function verdictMark(verdict: unknown): string {
  return VERDICT_MARK[String(verdict)] ?? String(verdict ?? '?');
}

/** `350ms`, `4.2s`, `12s`, `1m12s`, `2h03m`; '-' for no duration. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** From an ISO start to an ISO end; '-' while it has not ended. */
export function durationBetween(start: string | null | undefined, end: string | null | undefined): string {
  if (!start || !end) return '-';
  return formatDuration(Date.parse(end) - Date.parse(start));
}

/** `HH:MM:SSZ` of an ISO time (UTC, as the daemon's own messages write times). */
export function clockTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toISOString().slice(11, 19)}Z`;
}

/** One line of text however long or multi-line the source: whitespace folded, cut with '…'. */
export function oneLine(text: unknown, max = 200): string {
  const flat = String(text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()}\n`).join('');
}

const shortId = (id: unknown): string => String(id ?? '?').slice(0, 8);

/** `key=value` pairs of any JSON value, nested objects flattened to `a.b=…`: never raw JSON. */
export function keyValues(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [`${prefix || 'value'}=${scalar(value)}`];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (!entries.length) return [`${prefix || 'value'}=${Array.isArray(value) ? '(none)' : '(empty)'}`];
  return entries.flatMap(([key, v]) => keyValues(v, prefix ? `${prefix}.${key}` : key));
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = String(value);
  return /[\s"=]/.test(text) || text === '' ? JSON.stringify(oneLine(text, 200)) : text;
}

function measurementText(m: Record<string, unknown> | undefined): string {
  if (!m) return '?';
  const limits = (m.limits ?? {}) as { min?: number; max?: number; equals?: unknown };
  const range =
    limits.equals !== undefined ? ` (expected ${String(limits.equals)})` : limits.min !== undefined || limits.max !== undefined ? ` (limits ${limits.min ?? ''}..${limits.max ?? ''})` : '';
  return `${String(m.name)} = ${String(m.value)}${m.unit ? ` ${String(m.unit)}` : ''}${range} ${m.passed === false ? 'FAIL' : 'ok'}`;
}

/**
 * One readable line for any event: `HH:MM:SS.mmm <subject> <what happened>`.
 * An event type this CLI does not know yet is `type key=value ...`.
 */
export function formatEventLine(event: StreamEvent): string {
  const p = (event.payload ?? {}) as Record<string, unknown>;
  const time = typeof event.time === 'string' && event.time.length >= 23 ? event.time.slice(11, 23) : String(event.time ?? '');
  const reason = (r: unknown): string => (r ? `: ${oneLine(r)}` : '');
  const run = `run ${shortId(p.runId)}`;
  switch (event.type) {
    case 'board.state':
      return `${time} ${String(p.boardId)} state ${String(p.from ?? '-')} -> ${String(p.to)}${reason(p.reason)}`;
    case 'board.health':
      return `${time} ${String(p.boardId)} health ${String(p.from ?? '-')} -> ${String(p.to)}${reason(p.reason)}`;
    case 'run.queued':
      return `${time} ${run} queued ${String(p.scenario)} on ${String(p.boardId)}${p.requestedBy ? ` by ${String(p.requestedBy)}` : ''} (${String(p.runId)})`;
    case 'run.waiting':
      return `${time} ${run} waiting for ${String(p.boardId)}${reason(p.reason)}`;
    case 'run.started':
      return `${time} ${run} started ${String(p.scenario)} on ${String(p.boardId)}`;
    case 'run.ended':
      return `${time} ${run} ended ${verdictMark(p.verdict)} ${String(p.scenario)} on ${String(p.boardId)}${reason(p.reason)}`;
    case 'step.started':
      return `${time} ${run} step ${String(p.index)} ${oneLine(p.name)} started${typeof p.attempt === 'number' && p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`;
    case 'step.progress':
      return `${time} ${run} step ${String(p.index)} ${oneLine(p.name)}: ${oneLine(p.message)}`;
    case 'step.ended':
      return `${time} ${run} step ${String(p.index)} ${oneLine(p.name)} ${verdictMark(p.verdict)}${typeof p.durationMs === 'number' ? ` (${formatDuration(p.durationMs)})` : ''}${p.verdict !== 'passed' && p.message ? `: ${oneLine(p.message)}` : ''}`;
    case 'measurement':
      return `${time} ${run} step ${String(p.stepIndex)} measured ${measurementText(p.measurement as Record<string, unknown> | undefined)}`;
    case 'console.line': {
      // The channel is named unless it is the debug UART (the one console of older daemons).
      const uart = p.uart && p.uart !== 'debug' && p.uart !== 'debug-uart' ? `/${String(p.uart)}` : '';
      return `${time} ${String(p.boardId)}${uart} | ${String((p.line as { text?: unknown } | undefined)?.text ?? '')}`;
    }
    case 'system': {
      const details = p.details && typeof p.details === 'object' && Object.keys(p.details).length ? ` ${keyValues(p.details).join(' ')}` : '';
      return `${time} system ${String(p.level ?? 'info')}: ${oneLine(p.message)}${details}`;
    }
    default:
      return `${time} ${event.type} ${keyValues(p).join(' ')}`;
  }
}
