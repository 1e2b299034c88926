import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonEvent } from '../../src/daemon/daemon-event.js';
import { DaemonProcess, type FinishedRun } from '../helpers/daemon-process.js';
import { StreamClient } from './helpers/stream-client.js';

/**
 * Issue #15: when the emulator child died (kill -9), its boards stayed offline
 * until the daemon restarted, nothing was logged, and a run on one stayed
 * `running`. Now the daemon notices, ends the run `infra-error` (emulator-lost),
 * lists the boards offline saying why, restarts the emulator with backoff, and
 * hands the boards back health-checked.
 */
const RIG = fileURLToPath(new URL('./fixtures/one-board-rig.yaml', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('./fixtures/emulator-supervision/', import.meta.url));
/** How long the daemon may take to notice, restart and health-check: generous for a loaded machine; these wait on events. */
const EVENT_TIMEOUT_MS = 120_000;

interface BoardJson {
  id: string;
  state: string;
  offlineReason?: string;
  health: { status: string };
}

type Payload = Record<string, unknown>;
const payload = (e: DaemonEvent): Payload => e.payload as Payload;

/** The emulator the daemon runs: its one child process that is `sphere-rig emulator run`. */
function emulatorPid(daemonPid: number): number {
  const children = execFileSync('pgrep', ['-P', String(daemonPid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  const emulators = children.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(' emulator run ');
    } catch {
      return false; // exited meanwhile
    }
  });
  expect(emulators, `emulator children of the daemon (${children.join(', ')})`).to.have.length(1);
  return emulators[0]!;
}

describe('emulator supervision: the daemon restarts an emulator that died (daemon)', function () {
  this.timeout(600_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let stream: StreamClient;
  /** Every line the daemon has logged (it runs with SPHERE_RIG_LOG_LEVEL=warn). */
  const logLines = (): string[] => daemon.stderr;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-supervision-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir, scenarios: SCENARIOS });
    stream = await StreamClient.connect(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:*,board:*&token=${daemon.token}`);
  });

  after(async () => {
    await stream?.close();
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const board = async () => (await daemon.request<BoardJson>('GET', '/api/v1/boards/emu-1')).body;
  /** The first event after `since` (a stream seq) that matches. */
  const eventAfter = (since: number, what: string, predicate: (e: DaemonEvent) => boolean) =>
    stream.waitForEvent((e) => e.seq > since && predicate(e), EVENT_TIMEOUT_MS, what);
  const runEnded = (since: number, predicate: (p: Payload) => boolean, what: string) => eventAfter(since, what, (e) => e.type === 'run.ended' && predicate(payload(e)));
  const boardState = (since: number, to: string, reason?: string) =>
    eventAfter(since, `board.state ${to}${reason ? ` (${reason})` : ''}`, (e) => e.type === 'board.state' && payload(e).to === to && (reason === undefined || payload(e).reason === reason));
  /** Resolves once the daemon has logged `count` lines matching `pattern`. */
  const logged = (pattern: RegExp, what: string, count = 1): Promise<string[]> =>
    new Promise((resolve, reject) => {
      // The helper's own reader turns each chunk into daemon.stderr lines before this listener sees the chunk.
      const check = () => {
        const lines = logLines().filter((l) => pattern.test(l));
        if (lines.length < count) return;
        clearTimeout(timer);
        daemon.child.stderr!.off('data', check);
        resolve(lines);
      };
      const timer = setTimeout(() => {
        daemon.child.stderr!.off('data', check);
        reject(new Error(`the daemon did not log ${what} within ${EVENT_TIMEOUT_MS} ms:\n${logLines().join('\n')}`));
      }, EVENT_TIMEOUT_MS);
      daemon.child.stderr!.on('data', check);
      check();
    });
  /** The board is back: ready, its health check passed, and boot-smoke passes on it. */
  const backInService = async (since: number) => {
    await boardState(since, 'ready');
    const check = await runEnded(since, (p) => p.scenario === 'health-check', 'a health check after the restart');
    expect(payload(check).verdict, String(payload(check).reason)).to.equal('passed');
    const [smoke] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-1' });
    const finished: FinishedRun = await daemon.waitForRun(smoke!, 300_000);
    expect(finished.verdict, `${finished.reason}`).to.equal('passed');
    const now = await board();
    expect([now.state, now.health.status]).to.deep.equal(['ready', 'good']);
  };

  it('ends the run on a board whose emulator is killed (infra-error, emulator-lost), restarts the emulator, and the board takes runs again', async () => {
    const [id] = await daemon.submit({ scenario: 'long-hold', boardId: 'emu-1' });
    await stream.waitForEvent((e) => e.type === 'step.started' && payload(e).runId === id && payload(e).name === 'hold', EVENT_TIMEOUT_MS, 'the hold step of long-hold');
    const before = stream.lastSeq;
    const pid = emulatorPid(daemon.child.pid!);
    process.kill(pid, 'SIGKILL');

    const ended = await runEnded(before, (p) => p.runId === id, `run.ended of ${id}`);
    expect(payload(ended).verdict).to.equal('infra-error');
    // The step it was in fails with the error the rig aborted the run with (the run's reason is that step's).
    expect(payload(ended).reason).to.equal('hold: the emulator process died (signal SIGKILL); restarting it');
    const record = (await daemon.request<{ steps: Array<{ name: string; phase: string; verdict: string | null; errorCode: string | null; durationMs: number | null }> }>('GET', `/api/v1/runs/${id}`)).body;
    const hold = record.steps.find((s) => s.name === 'hold');
    expect([hold?.verdict, hold?.errorCode]).to.deep.equal(['infra-error', 'emulator-lost']);
    // Its teardown was tried, and failed at once on the lost board rather than waiting for it.
    const teardown = record.steps.find((s) => s.phase === 'teardown');
    expect(teardown?.verdict).to.equal('infra-error');

    await backInService(before);
    expect(emulatorPid(daemon.child.pid!)).to.not.equal(pid);
    const [died] = await logged(/the emulator process died/, 'that the emulator died');
    expect(died).to.include('"signal":"SIGKILL"');
    await logged(/the emulator was restarted/, 'that the emulator was restarted');
    expect(logLines().filter((l) => l.includes('the emulator process died')), 'logged once').to.have.length(1);
  });

  it('lists the board offline with the reason while the emulator is down, and retries a restart that fails', async () => {
    // The emulator cannot start while its state file is away: its restarts fail until it is back.
    const stateFile = join(stateDir, 'emulator', 'emulator.json');
    const hidden = `${stateFile}.away`;
    const before = stream.lastSeq;
    const failuresBefore = logLines().filter((l) => l.includes('the emulator did not restart')).length;
    renameSync(stateFile, hidden);
    try {
      process.kill(emulatorPid(daemon.child.pid!), 'SIGKILL');
      const offline = await boardState(before, 'offline', 'emulator restarting');
      expect(payload(offline).boardId).to.equal('emu-1');
      // A restart has failed, and the next waits its backoff: the board is down for as long as the test looks.
      const [failed] = (await logged(/the emulator did not restart/, 'a failed restart', failuresBefore + 1)).slice(failuresBefore);
      expect(failed).to.include('no emulator state here');
      const listed = (await daemon.request<BoardJson[] | { boards: BoardJson[] }>('GET', '/api/v1/boards')).body;
      const down = (Array.isArray(listed) ? listed : listed.boards).find((b) => b.id === 'emu-1');
      expect(down).to.deep.include({ state: 'offline', offlineReason: 'emulator restarting' });
      expect(down!.health.status).to.equal('unknown');
      const refused = await daemon.request<{ error: { code: string; message: string } }>('POST', '/api/v1/boards/emu-1/actions', { action: 'power-on' });
      expect([refused.status, refused.body.error.code]).to.deep.equal([409, 'board-offline']);
      expect(refused.body.error.message).to.include('emulator restarting');
    } finally {
      renameSync(hidden, stateFile);
    }
    await backInService(before);
  });
});
