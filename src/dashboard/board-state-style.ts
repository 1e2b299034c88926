import type { Board, BoardState } from './api-types.js';
import { styleBadge, type OutcomeStyle } from './verdict-style.js';

/**
 * How a board's state looks on its card. A board running a scenario is shown as
 * running (its own state, e.g. booting after a reset, follows in small print).
 */
const STATE_STYLES: Record<BoardState | 'running', OutcomeStyle> = {
  ready: { label: 'Ready', icon: '✓', tone: 'pass', meaning: 'booted, services up, free for runs' },
  running: { label: 'Running', icon: '▶', tone: 'running', meaning: 'a scenario holds this board' },
  booting: { label: 'Booting', icon: '↻', tone: 'timeout', meaning: 'the secure boot chain is running' },
  off: { label: 'Off', icon: '○', tone: 'neutral', meaning: 'powered off' },
  'rom-recovery': { label: 'ROM / recovery', icon: '⚑', tone: 'recovery', meaning: 'waiting in ROM: recovery mode or no valid OS' },
  hung: { label: 'Hung', icon: '⏸', tone: 'fault', meaning: 'the boot stopped; the watchdog will reset it' },
  broken: { label: 'Broken', icon: '✗', tone: 'fail', meaning: 'the board does not boot' },
  offline: { label: 'Offline', icon: '⊘', tone: 'offline', meaning: 'the rig cannot reach this board' },
  unknown: { label: 'Unknown', icon: '?', tone: 'neutral', meaning: 'no state reported yet' },
};

export function boardStateStyle(board: Pick<Board, 'state' | 'runningRun'>): OutcomeStyle {
  return board.runningRun ? STATE_STYLES.running : (STATE_STYLES[board.state] ?? STATE_STYLES.unknown);
}

export function boardStateBadge(board: Pick<Board, 'state' | 'runningRun'>): HTMLSpanElement {
  return styleBadge(boardStateStyle(board), { state: board.runningRun ? 'running' : board.state });
}
