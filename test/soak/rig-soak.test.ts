import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { DaemonProcess } from '../helpers/daemon-process.js';

/**
 * The soak (SPHERE_RIG_SOAK=1; SPHERE_RIG_SOAK_MINUTES, default 30): four emulated
 * boards run scenarios back to back while 50 stream clients come and go (some read
 * nothing, some send garbage) and the emulator child is killed every 5 minutes
 * (SPHERE_RIG_SOAK_KILL_MINUTES). At the end: every submitted run ended with a
 * verdict and is in the store, and the RSS of the daemon and the emulator after
 * warm-up stayed within 20%. It prints its figures.
 */
const RIG = fileURLToPath(new URL('../daemon/fixtures/test-rig.yaml', import.meta.url));
const MINUTES = Number(process.env.SPHERE_RIG_SOAK_MINUTES ?? 30);
const KILL_EVERY_MS = Number(process.env.SPHERE_RIG_SOAK_KILL_MINUTES ?? 5) * 60_000;
const SCENARIOS = ['boot-smoke', 'attestation', 'update-rollback', 'crash-report', 'sideload-update', 'bad-signature'];
const BOARDS = ['emu-1', 'emu-2', 'emu-3', 'emu-4'];

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('soak: four boards, fifty stream clients, the emulator killed now and then (SPHERE_RIG_SOAK=1)', function () {
  const enabled = process.env.SPHERE_RIG_SOAK === '1';
  this.timeout((MINUTES + 10) * 60_000);
  let stateDir: string;
  let daemon: DaemonProcess;

  before(async function () {
    if (!enabled) this.skip();
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-soak-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
  });

  after(async () => {
    await daemon?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('loses no finished result, ends every run with a verdict, and keeps its memory flat', async () => {
    const deadline = Date.now() + MINUTES * 60_000;
    const warmUpAt = Date.now() + Math.min(5 * 60_000, (MINUTES * 60_000) / 4);
    const submitted: string[] = [];
    const samples: Array<{ at: number; daemon: number; emulator: number }> = [];
    let kills = 0;
    let clientsOpened = 0;
    let stop = false;

    const daemonPid = daemon.child.pid!;
    const emulatorPid = () => childPids(daemonPid).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('emulator'));

    // Each board runs scenarios back to back.
    const boardLoops = BOARDS.map(async (boardId, b) => {
      for (let i = b; !stop && Date.now() < deadline; i++) {
        const answer = await daemon.request<{ runs?: Array<{ id: string }> }>('POST', '/api/v1/runs', { scenario: SCENARIOS[i % SCENARIOS.length], boardId });
        if (answer.status !== 201) {
          // A board out of service for a while (health check after an emulator kill) refuses; try the next turn.
          await new Promise((resolve) => setTimeout(resolve, 2000));
          continue;
        }
        const id = answer.body.runs![0]!.id;
        submitted.push(id);
        await daemon.waitForRun(id, 20 * 60_000);
      }
    });

    // Stream clients: well-behaved, never reading, and hostile, coming and going.
    const clientLoop = (async () => {
      const open: Array<WebSocket | Socket> = [];
      while (!stop && Date.now() < deadline) {
        while (open.length < 50) {
          const kind = clientsOpened++ % 5;
          const url = `${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=*&token=${daemon.token}`;
          if (kind === 3) {
            // Never reads: a raw socket that upgrades and then only listens to nothing.
            const port = Number(new URL(daemon.url).port);
            const socket = connect(port, '127.0.0.1');
            socket.on('error', () => undefined);
            socket.write(`GET /api/v1/stream?subscribe=*&token=${daemon.token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c29hay1jbGllbnQtMDAwMA==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
            socket.pause();
            open.push(socket);
          } else {
            const ws = new WebSocket(url);
            ws.on('error', () => undefined);
            if (kind === 4) ws.on('open', () => ws.send(Buffer.alloc(1)));
            open.push(ws);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
        // A fifth of them leave each second.
        for (const client of open.splice(0, 10)) {
          if (client instanceof WebSocket) client.terminate();
          else client.destroy();
        }
      }
      for (const client of open) client instanceof WebSocket ? client.terminate() : client.destroy();
    })();

    // The emulator dies now and then; memory is sampled every 10 s.
    const watchLoop = (async () => {
      let nextKill = Date.now() + KILL_EVERY_MS;
      while (!stop && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const emulator = emulatorPid();
        if (Date.now() > warmUpAt && emulator) samples.push({ at: Date.now(), daemon: rssKiB(daemonPid), emulator: rssKiB(emulator) });
        if (Date.now() > nextKill && emulator) {
          process.kill(emulator, 'SIGKILL');
          kills++;
          nextKill = Date.now() + KILL_EVERY_MS;
        }
      }
    })();

    await Promise.all([...boardLoops, clientLoop, watchLoop]);
    stop = true;

    const records = await Promise.all(
      submitted.map((id) => daemon.request<{ status: string; verdict: string | null; scenario: string; reason: string | null }>('GET', `/api/v1/runs/${id}`)),
    );
    const verdicts = new Map<string, number>();
    for (const { body } of records) verdicts.set(body.verdict ?? 'none', (verdicts.get(body.verdict ?? 'none') ?? 0) + 1);
    // What did not pass, by scenario and reason: the figures a lab reads to tell the rig's faults from the boards'.
    const notPassed = new Map<string, number>();
    for (const { body } of records) {
      if (body.verdict === 'passed') continue;
      const key = `${body.verdict} ${body.scenario}: ${(body.reason ?? '').slice(0, 160)}`;
      notPassed.set(key, (notPassed.get(key) ?? 0) + 1);
    }
    const first = samples.slice(0, 3);
    const last = samples.slice(-3);
    const mean = (list: typeof samples, key: 'daemon' | 'emulator') => list.reduce((sum, s) => sum + s[key], 0) / Math.max(1, list.length);
    const growth = (key: 'daemon' | 'emulator') => mean(last, key) / Math.max(1, mean(first, key));
    process.stdout.write(
      `      soak: ${MINUTES} min, ${submitted.length} runs (${[...verdicts].map(([v, n]) => `${v} ${n}`).join(', ')}), ${clientsOpened} stream clients, ${kills} emulator kills\n` +
        `      RSS after warm-up: daemon ${Math.round(mean(first, 'daemon') / 1024)} -> ${Math.round(mean(last, 'daemon') / 1024)} MiB (x${growth('daemon').toFixed(2)}), ` +
        `emulator ${Math.round(mean(first, 'emulator') / 1024)} -> ${Math.round(mean(last, 'emulator') / 1024)} MiB (x${growth('emulator').toFixed(2)})\n`,
    );
    for (const [what, count] of [...notPassed].sort((a, b) => b[1] - a[1])) process.stdout.write(`        ${count} x ${what}\n`);
    expect(records.every(({ status, body }) => status === 200 && body.status === 'finished' && body.verdict !== null), 'every run finished with a verdict').to.equal(true);
    expect(growth('daemon')).to.be.below(1.2);
    expect(growth('emulator')).to.be.below(1.2);
  });
});
