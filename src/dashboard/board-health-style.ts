import type { BoardHealth, HealthStatus } from './api-types.js';
import { styleBadge, type OutcomeStyle } from './verdict-style.js';

/**
 * How a board's health looks: like verdicts, an icon and a word besides the
 * colour, the reason as the tooltip. A pending health check gets a badge of its
 * own ("checking…") beside the status, which stays what it was until the check ends.
 */
const HEALTH_STYLES: Record<HealthStatus, OutcomeStyle> = {
  good: { label: 'Healthy', icon: '♥', tone: 'pass', meaning: 'its last health check passed; it takes runs' },
  unknown: { label: 'Unchecked', icon: '?', tone: 'neutral', meaning: 'not checked since the daemon started or since a run went wrong; a health check runs before anything else' },
  bad: { label: 'Unhealthy', icon: '✗', tone: 'fail', meaning: 'its last health check failed; it takes no runs until a check passes' },
  maintenance: { label: 'Maintenance', icon: '⚒', tone: 'timeout', meaning: 'taken out by an operator; runs asked for it wait' },
  retired: { label: 'Retired', icon: '⊘', tone: 'offline', meaning: 'takes no runs' },
};

const CHECKING: OutcomeStyle = { label: 'checking…', icon: '↻', tone: 'running', meaning: 'a health check is queued or running' };

export function healthStyle(status: HealthStatus): OutcomeStyle {
  return HEALTH_STYLES[status] ?? HEALTH_STYLES.unknown;
}

/** The status badge (`data-health`), and the "checking…" badge while a check is pending. */
export function healthBadges(health: BoardHealth, extraClass = ''): HTMLSpanElement[] {
  const style = healthStyle(health.status);
  const badge = styleBadge(style, { health: health.status }, `health-badge ${extraClass}`);
  badge.title = health.reason ? `${style.label}: ${health.reason}` : `${style.label}: ${style.meaning}`;
  if (!health.checking) return [badge];
  return [badge, styleBadge(CHECKING, { checking: 'true' }, `checking-badge ${extraClass}`)];
}

/** Boards a new run should not be sent to by the start-run form (the daemon refuses or parks them). */
export function unavailableForRuns(health: Pick<BoardHealth, 'status' | 'reason'>): string | null {
  switch (health.status) {
    case 'bad':
      return `unhealthy${health.reason ? `: ${health.reason}` : ''}`;
    case 'retired':
      return 'retired';
    case 'maintenance':
      return 'in maintenance';
    default:
      return null;
  }
}
