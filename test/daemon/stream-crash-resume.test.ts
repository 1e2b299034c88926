import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonEvent } from '../../src/daemon/daemon-event.js';
import type { StreamControlMessage } from '../../src/daemon/stream-protocol.js';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { StreamClient } from './helpers/stream-client.js';

const RIG = fileURLToPath(new URL('./fixtures/wiring-rig.yaml', import.meta.url));
type Missed = Extract<StreamControlMessage, { type: 'missed' }>;

/**
 * Events a client saw live but that a SIGKILL kept from the event log: a client
 * resuming from before them after the restart gets each of them again or an
 * explicit `missed` notice covering it, never a silent hole. The daemon that is
 * killed writes its events only every ten minutes (SPHERE_RIG_EVENT_FLUSH_MS),
 * so the loss does not depend on when the kill lands.
 */
describe('the event stream across a daemon SIGKILL: lost events are announced to a resuming client', function () {
  this.timeout(240_000);
  let stateDir: string;
  let daemon: DaemonProcess | undefined;
  const clients: StreamClient[] = [];

  before(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-crash-resume-'));
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.ws.terminate();
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  async function follow(since: number): Promise<StreamClient> {
    const client = await StreamClient.connect(`${daemon!.url.replace('http', 'ws')}/api/v1/stream?subscribe=*&since=${since}`, { authorization: `Bearer ${daemon!.token}` });
    clients.push(client);
    await client.waitForControl('live', 1, 30_000);
    return client;
  }

  /** Runs a scenario on the rig's (offline) board and waits for its end on the stream: a few events, seen live. */
  async function someEvents(client: StreamClient): Promise<void> {
    const [runId] = await daemon!.submit({ scenario: 'boot-smoke', boardId: 'bench-1' });
    await client.waitForEvent((e) => e.type === 'run.ended' && e.topic === `run:${runId}`, 60_000, `run.ended of ${runId}`);
  }

  it('replays what was written and announces what the crash lost, in place, with reason crash', async () => {
    // A first daemon, stopped cleanly: its events are all on disk.
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
    const first = await follow(0);
    await someEvents(first);
    await daemon.stop('SIGINT');
    const written = first.events.map((e) => e.seq);

    // A second one on the same state, killed with its latest events only in memory.
    daemon = await DaemonProcess.start({ rig: RIG, stateDir, port: daemon.port, env: { SPHERE_RIG_EVENT_FLUSH_MS: '600000' } });
    const second = await follow(written.at(-1)!);
    await someEvents(second);
    const seenLive = second.events.map((e) => e.seq);
    expect(seenLive.length).to.be.greaterThan(0);
    await daemon.stop('SIGKILL');

    daemon = await daemon.restart();
    const resumed = await follow(0);
    const missed = resumed.control('missed');
    expect(missed.length, 'a missed notice').to.be.greaterThan(0);
    expect(missed.every((m) => m.reason === 'crash')).to.equal(true);
    const replayed = new Set(resumed.events.map((e) => e.seq));
    const covered = (seq: number): boolean => missed.some((m) => m.from <= seq && seq <= m.through);
    // Every event seen live before the kill comes back, or a notice covers it.
    const silentHoles = [...written, ...seenLive].filter((seq) => !replayed.has(seq) && !covered(seq));
    expect(silentHoles, 'events neither replayed nor announced as missed').to.deep.equal([]);
    // What was written is replayed, not announced.
    expect(written.filter((seq) => !replayed.has(seq) || covered(seq))).to.deep.equal([]);
    // The notice comes where the hole is: after the events before it, before the events after it.
    const order = resumed.all.filter((m): m is DaemonEvent | Missed => 'seq' in m || m.type === 'missed');
    for (const notice of missed) {
      const at = order.indexOf(notice);
      expect(order.slice(0, at).every((m) => !('topic' in m) || m.seq < notice.from)).to.equal(true);
      expect(order.slice(at + 1).every((m) => !('topic' in m) || m.seq > notice.through)).to.equal(true);
    }

    // A client resuming after the last event it saw live before the kill is told too.
    const lastSeen = seenLive.at(-1)!;
    const late = await follow(lastSeen);
    expect(late.control('missed').map((m) => [m.from, m.reason])).to.deep.equal([[lastSeen + 1, 'crash']]);
    // And one resuming from the restarted daemon's own events is not.
    const current = await follow(resumed.control('live')[0]!.seq);
    expect(current.control('missed')).to.deep.equal([]);
  });
});
