import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { ControlClient } from '../../../src/device/emulated/control-client.js';
import { EmulatorProcess } from '../../helpers/emulator-process.js';

/**
 * Issue #15: 5 MB of `x\n` on the emulator's control port from a client that
 * never read took the emulator from 131 to 435 MB (an error reply per line,
 * all queued for that client). Now the client is dropped, the emulator's
 * memory stays put, and its other clients are served all along.
 */
const FLOOD_BYTES = 5 * 1024 * 1024;
/** How much the emulator may grow over the flood. The unbounded queue grew it by ~300 MB; the bounded one costs a few. */
const RSS_GROWTH_BOUND_KB = 40 * 1024;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel does not let us. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

describe('the emulator control channel under a flood from a client that never reads', function () {
  this.timeout(120_000);
  let emulator: EmulatorProcess | undefined;
  let other: ControlClient | undefined;

  afterEach(async () => {
    await other?.close();
    other = undefined;
    await emulator?.stop();
    emulator = undefined;
  });

  it('drops the flooding client, keeps its memory bounded, and answers another client throughout', async () => {
    emulator = await EmulatorProcess.start({ boards: 1 });
    const pid = emulator.child.pid!;
    const port = emulator.boards[0]!.controlPort;
    other = await ControlClient.connect({ port, defaultTimeoutMs: 5_000 });
    await other.request('info'); // warmed up: the code paths of a request are loaded
    const rssBefore = statusKb(pid, 'VmRSS');
    const peakTracked = resetPeakRss(pid);

    const flooder = connect({ host: '127.0.0.1', port });
    flooder.pause(); // never reads
    flooder.on('error', () => undefined); // the server cuts it off; 'close' follows
    const closed = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
    let flooding = true;
    // Done when the emulator has taken all 5 MB (it reads and ignores what a dropped client still sends) or cut the client off.
    const floodOver = new Promise<void>((resolve) => {
      flooder.write(Buffer.from('x\n'.repeat(FLOOD_BYTES / 2)), () => resolve());
      void closed.then(resolve);
    }).then(() => (flooding = false));

    // Another client keeps asking while the flood is on: every answer comes within the client's 5 s timeout.
    let answered = 0;
    do {
      const info = await other.request('info');
      expect(info).to.have.property('deviceId', emulator.boards[0]!.deviceId);
      answered += 1;
    } while (flooding);
    await floodOver;
    const rssAfter = statusKb(pid, 'VmRSS');
    const peak = peakTracked ? statusKb(pid, 'VmHWM') : rssAfter;
    expect(answered).to.be.greaterThan(0);
    expect(rssAfter - rssBefore, `emulator RSS ${rssBefore} kB before the flood, ${rssAfter} kB after`).to.be.below(RSS_GROWTH_BOUND_KB);
    expect(peak - rssBefore, `emulator peak RSS during the flood ${peak} kB (${rssBefore} kB before)`).to.be.below(RSS_GROWTH_BOUND_KB);

    // The emulator has closed the connection: reading now finds its end.
    flooder.resume();
    let received = '';
    flooder.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    await closed;
    const codes = received
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => ((JSON.parse(line) as { error?: { code?: string } }).error?.code ?? 'none'));
    // An error reply per line up to the malformed-line bound (500 at once by default, one more forgiven a second),
    // then the one naming why it was dropped (unless the reset that cut the client off overtook it).
    expect(codes.length).to.be.within(2, 600);
    expect(new Set(codes.slice(0, -1))).to.deep.equal(new Set(['malformed-json']));
    expect(codes.at(-1)).to.be.oneOf(['too-many-malformed-lines', 'malformed-json']);

    expect(await other.request('info')).to.have.property('deviceId');
    expect(emulator.stderr.join('\n')).to.include('client dropped');
  });
});
