/**
 * Boots N emulated boards in one process (fast mode) and prints boards/s and
 * memory per board. Target from the issue: 100 boards under 1.5 GiB RSS.
 *   node --import tsx bench/emulator-boot.ts [--boards 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmulatorHost } from '../src/emulator/emulator-host.js';
import { provisionEmulator } from '../src/emulator/provisioning.js';

const { values } = parseArgs({ options: { boards: { type: 'string', default: '100' } } });
const count = Number(values.boards);
const stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-bench-'));
try {
  let start = performance.now();
  await provisionEmulator({ stateDir, count, baselineApp: true });
  const provisionSeconds = (performance.now() - start) / 1000;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  start = performance.now();
  const host = await EmulatorHost.start({ stateDir, powerOn: false });
  const ready = host.boards.map(
    ({ board }) => new Promise<void>((resolve) => board.on('state', (s) => s === 'ready' && resolve())),
  );
  for (const { board } of host.boards) await board.powerOn();
  await Promise.all(ready);
  const bootSeconds = (performance.now() - start) / 1000;
  const rss = process.memoryUsage().rss;
  console.log(`boards               ${count}`);
  console.log(`provisioning         ${provisionSeconds.toFixed(2)} s (${(count / provisionSeconds).toFixed(1)} boards/s)`);
  console.log(`start + cold boot    ${bootSeconds.toFixed(2)} s (${(count / bootSeconds).toFixed(1)} boards/s)`);
  console.log(`process RSS          ${(rss / 1048576).toFixed(0)} MiB (limit 1536 MiB for 100 boards: ratio ${(rss / (1.5 * 1024 ** 3)).toFixed(3)})`);
  console.log(`per board            ${((rss - rssBefore) / count / 1024).toFixed(0)} KiB`);
  await host.close();
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
