import type { ConsoleExcerptLine, Measurement } from '../scenario/run-record.js';
import type { Verdict } from '../scenario/verdict.js';
import type { BoardState } from '../device/board.js';
import type { BoardHealthStatus } from './board-health.js';

/**
 * The events the daemon publishes on its event bus and streams to clients. Every
 * event has a sequence number (strictly increasing, surviving restarts), a topic
 * (what it is about: `board:<id>`, `run:<id>`, `console:<boardId>`, `system`), a
 * type (what happened), an ISO 8601 time and a JSON payload.
 *
 * Its JSON form, `{"seq","topic","type","time","payload"}` in that order, is what the
 * WebSocket stream sends and what the event log stores.
 */
export interface DaemonEventPayloads {
  'board.state': { boardId: string; from: BoardState | null; to: BoardState; reason?: string | null };
  /** A board's health changed (good, unknown, bad, maintenance, retired), or a check of it started or ended. */
  'board.health': { boardId: string; from: BoardHealthStatus | null; to: BoardHealthStatus; reason: string | null; checking?: boolean };
  'run.queued': { runId: string; scenario: string; boardId: string; requestedBy?: string | null; kind?: 'scenario' | 'health-check' };
  /** A queued run cannot start yet, and why (again whenever the reason changes). */
  'run.waiting': { runId: string; boardId: string; reason: string };
  'run.started': { runId: string; scenario: string; boardId: string };
  'run.ended': { runId: string; scenario: string; boardId: string; verdict: Verdict; reason: string | null };
  'step.started': { runId: string; index: number; name: string; type: string; attempt?: number };
  /** A running step's note of how far it has got ("3 of 10 images to go"); the run record has it once the step ends. */
  'step.progress': { runId: string; index: number; name: string; message: string };
  'step.ended': {
    runId: string;
    index: number;
    name: string;
    verdict: Verdict;
    durationMs: number | null;
    message: string | null;
    errorCode: string | null;
  };
  measurement: { runId: string; stepIndex: number; measurement: Measurement };
  /** One console line of a board; `line.seq` is the board console's own numbering. */
  'console.line': { boardId: string; uart?: string; runId?: string | null; line: ConsoleExcerptLine };
  system: { level: 'info' | 'warn' | 'error'; message: string; details?: Record<string, unknown> };
}

export type DaemonEventType = keyof DaemonEventPayloads;

export interface DaemonEvent<T extends DaemonEventType = DaemonEventType> {
  readonly seq: number;
  readonly topic: string;
  readonly type: T;
  /** ISO 8601, when the event was published. */
  readonly time: string;
  readonly payload: DaemonEventPayloads[T];
}

/** Any event, narrowed by `type`. */
export type AnyDaemonEvent = { [T in DaemonEventType]: DaemonEvent<T> }[DaemonEventType];

/** Topic names, so publishers and subscribers agree on them. */
export const topics = {
  board: (boardId: string): string => `board:${boardId}`,
  run: (runId: string): string => `run:${runId}`,
  console: (boardId: string): string => `console:${boardId}`,
  system: 'system',
} as const;

/**
 * The event's JSON text, built from the payload's JSON so an event read back from
 * the log needs no re-serialisation.
 */
export function eventJson(seq: number, topic: string, type: string, time: string, payloadJson: string): string {
  return `{"seq":${seq},"topic":${JSON.stringify(topic)},"type":${JSON.stringify(type)},"time":"${time}","payload":${payloadJson}}`;
}
