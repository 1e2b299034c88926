import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DaaClient } from '../../src/daa/daa-client.js';
import type { AffirmingResult } from '../../src/daa/protocol.js';
import { CLI } from '../helpers/emulator-process.js';
import { referenceFor } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';

/**
 * `sphere-rig daa serve` killed (SIGKILL) in the middle of a stream of
 * attestations, three times, each time started again on the same state folder: every
 * certificate it answered is still recorded (the group commit answers only
 * once committed), each device's certificate count matches its affirming audit
 * entries (no half-written batch), and the service attests again.
 */
const DEVICES = 20;
/** Affirmations answered before each kill; attestations are still in flight then. */
const ANSWERED_BEFORE_KILL = 150;
const KILLS = 3;

interface ServeProcess {
  child: ChildProcess;
  client: DaaClient;
}

async function serve(stateDir: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'daa', 'serve', '--state', stateDir, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`daa serve exited (${String(code)}) before listening: ${stderr}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  lines.close();
  const { url } = JSON.parse(line) as { url: string };
  // Managing the service takes a token: the local admin token it keeps in its state folder.
  let token: string;
  try {
    token = readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, client: new DaaClient(url, { token }) };
}

async function attest(client: DaaClient, device: SimulatedDevice): Promise<AffirmingResult> {
  const session = await client.createSession({ deviceId: device.deviceId });
  const result = await client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, session.tenant!)));
  if (result.verdict !== 'affirming') throw new Error(`refused: ${result.reasons.map((r) => r.code).join(', ')}`);
  return result;
}

describe('local DAA service: killed mid-stream', function () {
  this.timeout(120_000);
  let dir: string;
  let running: ServeProcess | undefined;

  before(() => (dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-crash-'))));
  after(() => {
    running?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every answered certificate and a consistent state across a SIGKILL', async () => {
    running = await serve(dir);
    const { client } = running;
    const first = new SimulatedDevice();
    const devices = [first, ...Array.from({ length: DEVICES - 1 }, () => Object.assign(new SimulatedDevice(), { images: first.images }))];
    const tenant = await client.createTenant({ name: 'crash' });
    await client.setReferenceValues(tenant.id, referenceFor(first));
    for (const device of devices) await client.claimDevice(tenant.id, device.deviceId);

    const answered = new Map<string, string[]>(devices.map((d) => [d.deviceId, []]));
    // Several kills: each lands at another point of the commit pipeline.
    for (let kill = 1; kill <= KILLS; kill++) {
      const { client: current, child } = running;
      let count = 0;
      let killing = false;
      let enough!: () => void;
      const reached = new Promise<void>((resolve) => (enough = resolve));
      // Each device attests over and over until the service is gone; only answered affirmations are counted.
      // A failure before the kill (a refusal, a service error) is the test's failure, not the end of a loop.
      const loops = devices.map(async (device) => {
        for (;;) {
          let result: AffirmingResult;
          try {
            result = await attest(current, device);
          } catch (error) {
            if (killing) return;
            throw error;
          }
          answered.get(device.deviceId)!.push(result.serialNumber);
          if (++count === ANSWERED_BEFORE_KILL) enough();
        }
      });
      await Promise.race([reached, ...loops]);
      killing = true;
      const exit = once(child, 'exit');
      child.kill('SIGKILL');
      await exit;
      await Promise.all(loops);

      running = await serve(dir);
      for (const device of devices) {
        const serials = answered.get(device.deviceId)!;
        const affirmations = await running.client.audit({ deviceId: device.deviceId, verdict: 'affirming', limit: 10_000 });
        const recorded = new Set(affirmations.map((entry) => entry.certificateSerial));
        expect(
          serials.filter((serial) => !recorded.has(serial)),
          `kill ${kill}: answered certificates of ${device.deviceId.slice(0, 16)} missing`,
        ).to.deep.equal([]);
        const info = await running.client.device(device.deviceId);
        expect(info.certificates, `kill ${kill}: certificate count of ${device.deviceId.slice(0, 16)}`).to.equal(affirmations.length);
      }
    }
    const again = await attest(running.client, first);
    expect(again.deviceId).to.equal(first.deviceId);
  });
});
