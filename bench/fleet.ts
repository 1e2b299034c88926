/**
 * A fleet run: `sideload-update` then `attestation` on 50 emulated boards at
 * once through a real daemon. Prints p50/p95 run time, the ratio of p95 to the
 * same scenario on one board alone (the ceiling: perfect parallelism gives 1),
 * the latency from a console line's timestamp to its arrival at a WebSocket
 * client (p50/p99), and the RSS of the daemon and of the emulator.
 *   node --import tsx bench/fleet.ts [--boards 50]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { DaemonProcess } from '../test/helpers/daemon-process.js';

const { values } = parseArgs({ options: { boards: { type: 'string', default: '50' } } });
const count = Number(values.boards);
const dir = mkdtempSync(join(tmpdir(), 'sphere-rig-fleet-'));
const rig = join(dir, 'fleet.yaml');
const boards = Array.from({ length: count }, (_, i) => `  - { id: b${i + 1}, driver: emulated, emulatorBoard: ${i}, tags: [fleet], tenant: lab }`);
writeFileSync(
  rig,
  `name: fleet\ndaemon: { listen: 127.0.0.1:0 }\nemulator: { boards: ${count}, speed: fast, baselineApp: true }\ndaa: { tenants: [{ name: lab }] }\nboards:\n${boards.join('\n')}\n`,
);

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

let started = performance.now();
const daemon = await DaemonProcess.start({ rig, stateDir: join(dir, 'state') });
console.log(`daemon with ${count} boards up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
try {
  const latencies: number[] = [];
  const socket = new WebSocket(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=console:*&token=${daemon.token}`);
  socket.on('message', (data) => {
    const event = JSON.parse(String(data)) as { type?: string; payload?: { line?: { timestamp: number } } };
    if (event.type === 'console.line' && event.payload?.line) latencies.push(Date.now() - event.payload.line.timestamp);
  });

  const runOn = async (scenario: string, selection: Record<string, unknown>) => {
    const { body } = await daemon.request<{ runs: Array<{ id: string }> }>('POST', '/api/v1/runs', { scenario, ...selection });
    const records = await Promise.all(body.runs.map((r) => daemon.waitForRun(r.id, 600_000)));
    const failed = records.filter((r) => r.verdict !== 'passed');
    if (failed.length) console.log(`  ${failed.length} ${scenario} runs did not pass: ${failed.map((r) => `${String(r.boardId)} ${String(r.verdict)} ${String(r.reason)}`).slice(0, 3).join('; ')}`);
    return records.map((r) => Date.parse(String(r.endedAt)) - Date.parse(String(r.startedAt)));
  };

  for (const scenario of ['sideload-update', 'attestation']) {
    const [single] = await runOn(scenario, { boardId: 'b1' });
    started = performance.now();
    const times = await runOn(scenario, { tags: ['fleet'] });
    const wall = (performance.now() - started) / 1000;
    const p95 = quantile(times, 0.95);
    console.log(`${scenario.padEnd(16)} one board ${single} ms; ${count} boards: p50 ${quantile(times, 0.5)} ms, p95 ${p95} ms, wall ${wall.toFixed(1)} s, p95/single ${(p95 / single!).toFixed(2)}`);
  }
  console.log(`console line -> WebSocket latency over ${latencies.length} lines: p50 ${quantile(latencies, 0.5)} ms, p99 ${quantile(latencies, 0.99)} ms`);
  const emulatorPid = Number(readFileSync('/proc/' + daemon.child.pid + '/task/' + daemon.child.pid + '/children', 'utf8').trim().split(' ')[0]);
  console.log(`daemon RSS ${rssMiB(daemon.child.pid!).toFixed(0)} MiB; emulator RSS ${emulatorPid ? rssMiB(emulatorPid).toFixed(0) : '?'} MiB`);
  socket.close();
} finally {
  await daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}
