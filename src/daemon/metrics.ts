import type { RequestHandler } from 'express';
import type winston from 'winston';
import { componentLogger } from '../util/logger.js';
import type { RunStatus } from '../scenario/run-record.js';
import { VERDICTS, type Verdict } from '../scenario/verdict.js';
import type { EventBusStats } from './event-bus.js';
import type { EventStreamStats } from './event-stream-server.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusText, type MetricFamily } from './prometheus-text.js';
import { STREAM_CLOSE_REASONS } from './stream-protocol.js';

/** What the stream families read: the counts by close reason and the queue length may be missing (reported as 0). */
export type StreamMetricStats = Pick<EventStreamStats, 'clients' | 'overflows' | 'maxLagEvents'> & Partial<Pick<EventStreamStats, 'closed' | 'maxQueuedBytes'>>;

/**
 * The daemon's `/metrics`. Every value is read from the daemon's own state at
 * scrape time (the run store's counts, the boards' states, the bus and stream
 * statistics), so nothing has to be counted twice. A source that fails is left
 * out of that scrape and logged; the scrape itself never fails.
 */
export interface DaemonMetricSources {
  /** `RunStore` fits. */
  runs?: { counts(): { byStatus: Record<RunStatus, number>; finishedByVerdict: Partial<Record<Verdict, number>> } };
  /** The current state of every board. */
  boardStates?: () => Iterable<string>;
  /** States reported as 0 when no board is in them (e.g. `BOARD_STATES`). */
  knownBoardStates?: readonly string[];
  /** Each board's health (id, status); `BoardHealthBook.entries()` fits. */
  boardHealth?: () => Iterable<[string, { status: string }]>;
  /** Health statuses reported as 0 when no board has them (e.g. `BOARD_HEALTH_STATUSES`). */
  knownHealth?: readonly string[];
  /** `EventBus` fits. */
  bus?: { stats(): EventBusStats };
  /** `EventStreamServer` fits. */
  stream?: { stats(): StreamMetricStats };
}

export class DaemonMetrics {
  private readonly logger: winston.Logger;

  constructor(
    private readonly sources: DaemonMetricSources,
    options: { logger?: winston.Logger } = {},
  ) {
    this.logger = options.logger ?? componentLogger('metrics');
  }

  collect(): MetricFamily[] {
    const families: MetricFamily[] = [];
    const { runs, boardStates, bus, stream } = this.sources;
    if (runs) this.guard('runs', () => families.push(...runFamilies(runs.counts())));
    if (boardStates) this.guard('boards', () => families.push(boardFamily(boardStates(), this.sources.knownBoardStates ?? [])));
    const { boardHealth } = this.sources;
    if (boardHealth) this.guard('board health', () => families.push(...healthFamilies([...boardHealth()], this.sources.knownHealth ?? [])));
    if (bus) this.guard('event bus', () => families.push(...busFamilies(bus.stats())));
    if (stream) this.guard('event stream', () => families.push(...streamFamilies(stream.stats())));
    return families;
  }

  render(): string {
    return renderPrometheusText(this.collect());
  }

  /** `GET /metrics`. */
  handler(): RequestHandler {
    return (_req, res) => {
      res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
      res.send(this.render());
    };
  }

  private guard(source: string, collect: () => void): void {
    try {
      collect();
    } catch (error) {
      this.logger.warn('metrics source failed', { source, error: (error as Error).message });
    }
  }
}

function runFamilies(counts: ReturnType<NonNullable<DaemonMetricSources['runs']>['counts']>): MetricFamily[] {
  return [
    {
      name: 'sphere_rig_runs_finished_total',
      help: 'Finished runs by verdict.',
      type: 'counter',
      samples: VERDICTS.map((verdict) => ({ labels: { verdict }, value: counts.finishedByVerdict[verdict] ?? 0 })),
    },
    { name: 'sphere_rig_runs_running', help: 'Runs running now.', type: 'gauge', samples: [{ value: counts.byStatus.running }] },
    { name: 'sphere_rig_runs_queued', help: 'Runs waiting for their board.', type: 'gauge', samples: [{ value: counts.byStatus.queued }] },
  ];
}

function boardFamily(states: Iterable<string>, known: readonly string[]): MetricFamily {
  const counts = new Map<string, number>(known.map((s) => [s, 0]));
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  return {
    name: 'sphere_rig_boards',
    help: 'Boards by state.',
    type: 'gauge',
    samples: [...counts].map(([state, value]) => ({ labels: { state }, value })),
  };
}

function healthFamilies(health: Array<[string, { status: string }]>, known: readonly string[]): MetricFamily[] {
  const counts = new Map<string, number>(known.map((s) => [s, 0]));
  for (const [, { status }] of health) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [
    { name: 'sphere_rig_board_health', help: 'Boards by health (good boards take runs).', type: 'gauge', samples: [...counts].map(([health, value]) => ({ labels: { health }, value })) },
    {
      name: 'sphere_rig_board_health_info',
      help: 'The health of each board (1 for its current health).',
      type: 'gauge',
      samples: health.map(([board, { status }]) => ({ labels: { board, health: status }, value: 1 })),
    },
  ];
}

function busFamilies(stats: EventBusStats): MetricFamily[] {
  return [
    { name: 'sphere_rig_events_published_total', help: 'Events published since the daemon started.', type: 'counter', samples: [{ value: stats.published }] },
    { name: 'sphere_rig_event_last_sequence', help: 'Sequence number of the newest event.', type: 'gauge', samples: [{ value: stats.lastSeq }] },
    { name: 'sphere_rig_events_unpersisted', help: 'Events published but not yet written to the event log.', type: 'gauge', samples: [{ value: stats.unpersisted }] },
    {
      name: 'sphere_rig_event_persist_lag_seconds',
      help: 'Age of the oldest event not yet written to the event log.',
      type: 'gauge',
      samples: [{ value: stats.persistLagMs / 1000 }],
    },
    { name: 'sphere_rig_events_lost_total', help: 'Events dropped because the event log could not be written for too long.', type: 'counter', samples: [{ value: stats.lost }] },
    { name: 'sphere_rig_event_subscriber_lag_events', help: 'Events the furthest-behind bus subscriber has yet to get.', type: 'gauge', samples: [{ value: stats.maxSubscriberLag }] },
  ];
}

function streamFamilies(stats: StreamMetricStats): MetricFamily[] {
  return [
    { name: 'sphere_rig_stream_clients', help: 'Connected WebSocket stream clients.', type: 'gauge', samples: [{ value: stats.clients }] },
    { name: 'sphere_rig_stream_overflows_total', help: 'Stream clients dropped for reading too slowly.', type: 'counter', samples: [{ value: stats.overflows }] },
    {
      name: 'sphere_rig_stream_closed_total',
      help: 'Stream clients the daemon closed, by reason: overflow (send queue past its bound), rate (sent too much), stalled (stopped reading), revoked (token revoked).',
      type: 'counter',
      samples: STREAM_CLOSE_REASONS.map((reason) => ({ labels: { reason }, value: stats.closed?.[reason] ?? 0 })),
    },
    { name: 'sphere_rig_stream_lag_events', help: 'Events the furthest-behind stream client has yet to get.', type: 'gauge', samples: [{ value: stats.maxLagEvents }] },
    { name: 'sphere_rig_stream_queued_bytes', help: 'Bytes waiting to be sent to the stream client with the longest send queue.', type: 'gauge', samples: [{ value: stats.maxQueuedBytes ?? 0 }] },
  ];
}
