import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { topics } from '../../src/daemon/daemon-event.js';
import { EventBus } from '../../src/daemon/event-bus.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { renderPrometheusText } from '../../src/daemon/prometheus-text.js';
import { RunStore } from '../../src/daemon/run-store.js';
import { RigError } from '../../src/util/failure.js';
import { rawRequest } from './helpers/http-request.js';
import { runRecord } from './helpers/run-records.js';
import { silentLogger } from './helpers/silent-logger.js';
import { TempDir } from './helpers/temp-dir.js';

/** Sample lines as `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    expect(match, `sample line: ${line}`).to.not.equal(null);
    map.set(match![1]!, Number(match![2]));
  }
  return map;
}

describe('Metrics: Prometheus text for /metrics', () => {
  it('writes HELP, TYPE and samples with escaped labels and special values', () => {
    const text = renderPrometheusText([
      { name: 'a_total', help: 'line one\nback\\slash', type: 'counter', samples: [{ labels: { path: 'C:\\x "q"\nz' }, value: 3 }] },
      { name: 'b', help: 'b', type: 'gauge', samples: [{ value: Number.NaN }, { labels: { k: 'v' }, value: Infinity }, { labels: {}, value: -Infinity }] },
    ]);
    expect(text).to.equal(
      [
        '# HELP a_total line one\\nback\\\\slash',
        '# TYPE a_total counter',
        'a_total{path="C:\\\\x \\"q\\"\\nz"} 3',
        '# HELP b b',
        '# TYPE b gauge',
        'b NaN',
        'b{k="v"} +Inf',
        'b -Inf',
        '',
      ].join('\n'),
    );
    expect(() => renderPrometheusText([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }])).to.throw(RigError);
    expect(() => renderPrometheusText([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).to.throw(RigError);
  });

  describe('DaemonMetrics', () => {
    let dir: TempDir;
    let store: RunStore;
    let bus: EventBus;

    beforeEach(() => {
      dir = new TempDir();
      store = RunStore.open(dir.file('runs.sqlite'));
      bus = EventBus.open({ path: dir.file('events.sqlite'), logger: silentLogger });
    });

    afterEach(() => {
      store.close();
      bus.close();
      dir.remove();
    });

    it('reports runs by verdict, running and queued runs, boards by state, events, stream clients and lag', () => {
      store.create(runRecord('a'));
      store.create(runRecord('b', { verdict: 'device-fault' }));
      store.create(runRecord('c', { status: 'running', verdict: null }));
      store.create(runRecord('d', { status: 'queued', verdict: null }));
      store.create(runRecord('e', { status: 'queued', verdict: null }));
      for (let i = 0; i < 7; i++) bus.publish(topics.system, 'system', { level: 'info', message: `m${i}` });
      const metrics = new DaemonMetrics(
        {
          runs: store,
          boardStates: () => ['ready', 'ready', 'broken'],
          knownBoardStates: ['off', 'ready', 'broken'],
          bus,
          stream: { stats: () => ({ clients: 3, overflows: 1, maxLagEvents: 12 }) },
        },
        { logger: silentLogger },
      );
      const values = samples(metrics.render());
      expect(values.get('sphere_rig_runs_finished_total{verdict="passed"}')).to.equal(1);
      expect(values.get('sphere_rig_runs_finished_total{verdict="device-fault"}')).to.equal(1);
      expect(values.get('sphere_rig_runs_finished_total{verdict="timeout"}')).to.equal(0);
      expect(values.get('sphere_rig_runs_running')).to.equal(1);
      expect(values.get('sphere_rig_runs_queued')).to.equal(2);
      expect(values.get('sphere_rig_boards{state="ready"}')).to.equal(2);
      expect(values.get('sphere_rig_boards{state="broken"}')).to.equal(1);
      expect(values.get('sphere_rig_boards{state="off"}')).to.equal(0);
      expect(values.get('sphere_rig_events_published_total')).to.equal(7);
      expect(values.get('sphere_rig_event_last_sequence')).to.equal(7);
      expect(values.get('sphere_rig_events_unpersisted')).to.equal(7);
      expect(values.get('sphere_rig_stream_clients')).to.equal(3);
      expect(values.get('sphere_rig_stream_lag_events')).to.equal(12);
      bus.flush();
      expect(samples(metrics.render()).get('sphere_rig_events_unpersisted')).to.equal(0);
    });

    it('leaves out a failing source instead of failing the scrape, and serves the text over HTTP', async () => {
      const metrics = new DaemonMetrics(
        {
          boardStates: () => {
            throw new Error('inventory gone');
          },
          bus,
        },
        { logger: silentLogger },
      );
      const app = express();
      app.get('/metrics', metrics.handler());
      const server: Server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      try {
        const res = await rawRequest((server.address() as AddressInfo).port, { path: '/metrics' });
        expect(res.status).to.equal(200);
        expect(res.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
        expect(res.text).to.contain('# TYPE sphere_rig_events_published_total counter');
        expect(res.text).to.not.contain('sphere_rig_boards');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});
