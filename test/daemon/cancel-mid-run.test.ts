import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { StreamClient } from './helpers/stream-client.js';

/**
 * Cancelling any built-in scenario half-way must never leave a board that
 * times out the next run: whatever the cancel left (power off, a power cut
 * armed, both OS slots corrupt, short timings), the teardown and the health
 * check that follows bring the board back, and boot-smoke then passes.
 */
const RIG = fileURLToPath(new URL('./fixtures/one-board-rig.yaml', import.meta.url));
const BUILTINS = fileURLToPath(new URL('../../fixtures/scenarios/', import.meta.url));

const scenarios = readdirSync(BUILTINS)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => parseYaml(readFileSync(join(BUILTINS, f), 'utf8')) as { name: string; steps: Array<{ name?: string; type: string }>; setup?: unknown[] });

describe('cancel mid-run on every built-in scenario, then boot-smoke on the same board (daemon)', function () {
  this.timeout(600_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let stream: StreamClient;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-cancel-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
    stream = await StreamClient.connect(`${daemon.url.replace('http', 'ws')}/api/v1/stream?subscribe=run:*&token=${daemon.token}`);
  });

  after(async () => {
    await stream?.close();
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  for (const scenario of scenarios) {
    // The middle step of the main phase: far enough in to have changed the board.
    const setupCount = scenario.setup?.length ?? 0;
    const cancelAt = setupCount + Math.floor(scenario.steps.length / 2);
    it(`${scenario.name}: cancelled at step ${cancelAt}, the board is brought back and boot-smoke passes`, async () => {
      const [id] = await daemon.submit({ scenario: scenario.name, boardId: 'emu-1' });
      await stream.waitForEvent((e) => e.type === 'step.started' && (e.payload as { runId: string }).runId === id && (e.payload as { index: number }).index === cancelAt, 240_000, `step ${cancelAt} of ${scenario.name}`);
      const cancel = await daemon.request('POST', `/api/v1/runs/${id}/cancel`);
      expect(cancel.status).to.be.oneOf([200, 404]); // 404: it ended on its own just before
      const cancelled = await daemon.waitForRun(id!, 240_000);
      expect(cancelled.verdict).to.be.oneOf(['cancelled', 'passed']);
      const [smoke] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-1' });
      const finished = await daemon.waitForRun(smoke!, 300_000);
      expect(finished.verdict, `${finished.reason}`).to.equal('passed');
    });
  }
});
