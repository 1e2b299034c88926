import type winston from 'winston';
import { componentLogger } from '../util/logger.js';
import type { BoardState } from '../device/board.js';
import type { BoardHealthStatus } from './board-health.js';
import type { ConsoleExcerptLine, Measurement, RunRecord, StepRecord } from '../scenario/run-record.js';
import { topics, type DaemonEventPayloads, type DaemonEventType } from './daemon-event.js';
import type { EventBus } from './event-bus.js';

/**
 * Turns what happens in the rig into bus events with the agreed topics and
 * payloads. Its run methods have the shape of the runner's `RunObserver`, so an
 * instance can be passed as the observer as is. Publishing never throws into a
 * run: an event that cannot be published is logged and dropped.
 */
export class RunEventPublisher {
  private readonly logger: winston.Logger;

  constructor(
    private readonly bus: EventBus,
    options: { logger?: winston.Logger } = {},
  ) {
    this.logger = options.logger ?? componentLogger('run-events');
  }

  runQueued(record: RunRecord): void {
    this.publish(topics.run(record.id), 'run.queued', { runId: record.id, scenario: record.scenario, boardId: record.boardId, requestedBy: record.requestedBy, kind: record.kind });
  }

  runWaiting(record: RunRecord, reason: string): void {
    this.publish(topics.run(record.id), 'run.waiting', { runId: record.id, boardId: record.boardId, reason });
  }

  runStarted(record: RunRecord): void {
    this.publish(topics.run(record.id), 'run.started', { runId: record.id, scenario: record.scenario, boardId: record.boardId });
  }

  stepStarted(record: RunRecord, step: StepRecord): void {
    this.publish(topics.run(record.id), 'step.started', { runId: record.id, index: step.index, name: step.name, type: step.type, attempt: step.attempts });
  }

  stepProgress(record: RunRecord, step: StepRecord, message: string): void {
    this.publish(topics.run(record.id), 'step.progress', { runId: record.id, index: step.index, name: step.name, message });
  }

  stepEnded(record: RunRecord, step: StepRecord): void {
    this.publish(topics.run(record.id), 'step.ended', {
      runId: record.id,
      index: step.index,
      name: step.name,
      // A step the runner ended without a verdict was skipped over by the rig.
      verdict: step.verdict ?? 'infra-error',
      durationMs: step.durationMs,
      message: step.message,
      errorCode: step.errorCode,
    });
  }

  measurement(record: RunRecord, step: StepRecord, measurement: Measurement): void {
    this.publish(topics.run(record.id), 'measurement', { runId: record.id, stepIndex: step.index, measurement });
  }

  runEnded(record: RunRecord): void {
    this.publish(topics.run(record.id), 'run.ended', {
      runId: record.id,
      scenario: record.scenario,
      boardId: record.boardId,
      verdict: record.verdict ?? 'infra-error',
      reason: record.reason,
    });
  }

  boardState(boardId: string, from: BoardState | null, to: BoardState, reason: string | null = null): void {
    this.publish(topics.board(boardId), 'board.state', { boardId, from, to, reason });
  }

  boardHealth(boardId: string, from: BoardHealthStatus | null, to: BoardHealthStatus, reason: string | null, checking: boolean): void {
    this.publish(topics.board(boardId), 'board.health', { boardId, from, to, reason, checking });
  }

  consoleLine(boardId: string, line: ConsoleExcerptLine, options: { uart?: string; runId?: string | null } = {}): void {
    this.publish(topics.console(boardId), 'console.line', { boardId, line, ...options });
  }

  private publish<T extends DaemonEventType>(topic: string, type: T, payload: DaemonEventPayloads[T]): void {
    try {
      this.bus.publish(topic, type, payload);
    } catch (error) {
      this.logger.warn('event not published', { topic, type, error: (error as Error).message });
    }
  }
}
