import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { ARTIFACTS, type DashboardBrowser, saveScreenshot } from './helpers/dashboard-browser.js';
import { expectNoPageErrors, startDashboardRig, stopDashboardRig } from './helpers/dashboard-rig.js';
import { writeEmulatedRig } from './helpers/emulated-rig-file.js';
import { DaemonProcess } from '../helpers/daemon-process.js';

/**
 * Every board prints 20 console lines a second (an app with `repeatLog` every
 * 50 ms); the rig page must keep up. Measured: the time from a line's arrival at
 * the daemon (its timestamp) to its appearance in the page, and the tab's JS heap
 * after garbage collection. The full run (50 boards, 2 minutes) needs
 * SPHERE_RIG_LOAD_TEST=1; the default run is shorter (20 boards, 20 s).
 */
const FULL = process.env.SPHERE_RIG_LOAD_TEST === '1';
const BOARDS = FULL ? 50 : 20;
const MEASURE_MS = FULL ? 120_000 : 20_000;
const WARM_UP_MS = 5_000;
const LINES_PER_SECOND = 20;
const SCENARIOS = fileURLToPath(new URL('./fixtures/scenarios/', import.meta.url));

/**
 * Installed in the page: records, for every console line added to a card, how
 * late it appeared, and which tick of which board it was, so lines missed by the
 * page can be told from lines a busy emulator printed later than planned.
 */
const LAG_RECORDER = `(() => {
  window.consoleLags = [];
  window.consoleTicks = [];
  new MutationObserver((records) => {
    const now = Date.now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1 || !node.classList.contains('line')) continue;
        const time = node.querySelector('time');
        const tick = /tick (\\d+)$/.exec(node.textContent);
        if (!time || !tick) continue;
        window.consoleLags.push(now - Date.parse(time.dateTime));
        window.consoleTicks.push([node.closest('.board-card')?.dataset.board ?? '?', Number(tick[1])]);
      }
    }
  }).observe(document.querySelector('.board-grid'), { childList: true, subtree: true });
})()`;

/** Lines the boards printed between the first and last tick the page showed of each: what it should have shown. */
function ticksPrinted(ticks: Array<[string, number]>): number {
  const range = new Map<string, { min: number; max: number }>();
  for (const [board, n] of ticks) {
    const seen = range.get(board);
    range.set(board, seen ? { min: Math.min(seen.min, n), max: Math.max(seen.max, n) } : { min: n, max: n });
  }
  return [...range.values()].reduce((sum, r) => sum + r.max - r.min + 1, 0);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function heapAfterGc(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  return usedSize;
}

describe(`the rig page with ${BOARDS} boards each printing ${LINES_PER_SECOND} console lines a second${FULL ? '' : ' (short run; SPHERE_RIG_LOAD_TEST=1 for 50 boards over 2 minutes)'}`, function () {
  this.timeout(MEASURE_MS + 300_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let browser: DashboardBrowser;
  let page: Page;

  before(async () => {
    ({ stateDir, daemon, browser } = await startDashboardRig('sphere-rig-load-', (folder) =>
      DaemonProcess.start({ rig: writeEmulatedRig(folder, BOARDS), stateDir: join(folder, 'state'), scenarios: [SCENARIOS] }),
    ));
    const runs = await daemon.submit({ scenario: 'console-ticker', tags: ['emulated'] });
    expect(runs).to.have.length(BOARDS);
    for (const id of runs) expect((await daemon.waitForRun(id)).verdict).to.equal('passed');
  });

  afterEach(() => expectNoPageErrors(browser));

  after(() => stopDashboardRig({ stateDir, daemon, browser }));

  it('shows each line within 250 ms (p95) and keeps the heap bounded', async () => {
    page = await browser.open(daemon.url, daemon.token);
    await page.waitForFunction((n) => document.querySelectorAll('.board-card .console-tail .line[title*=": tick "]').length >= n, BOARDS, { timeout: 60_000 });
    await page.evaluate(LAG_RECORDER);
    const cdp = await browser.context.newCDPSession(page);
    await page.waitForTimeout(WARM_UP_MS);
    await page.evaluate('window.consoleLags.length = 0; window.consoleTicks.length = 0');

    const lags: number[] = [];
    const ticks: Array<[string, number]> = [];
    const heap: Array<{ atS: number; mb: number }> = [];
    const domNodes: number[] = [];
    const phases = new Set<string>();
    const drain = async () => {
      lags.push(...((await page.evaluate('window.consoleLags.splice(0)')) as number[]));
      ticks.push(...((await page.evaluate('window.consoleTicks.splice(0)')) as Array<[string, number]>));
    };
    const started = Date.now();
    heap.push({ atS: 0, mb: (await heapAfterGc(cdp)) / 2 ** 20 });
    domNodes.push(await page.evaluate(() => document.getElementsByTagName('*').length));
    while (Date.now() - started < MEASURE_MS) {
      await page.waitForTimeout(Math.min(10_000, MEASURE_MS - (Date.now() - started)));
      await drain();
      phases.add((await page.locator('.connection').getAttribute('data-phase')) ?? '?');
      heap.push({ atS: Math.round((Date.now() - started) / 1000), mb: (await heapAfterGc(cdp)) / 2 ** 20 });
      domNodes.push(await page.evaluate(() => document.getElementsByTagName('*').length));
    }
    const seconds = (Date.now() - started) / 1000;
    await saveScreenshot(page, `rig-${BOARDS}-boards.png`);

    const figures = {
      boards: BOARDS,
      seconds: Math.round(seconds),
      linesShown: lags.length,
      linesPrinted: ticksPrinted(ticks),
      linesPerSecondShown: Math.round(lags.length / seconds),
      linesPerSecondPlanned: BOARDS * LINES_PER_SECOND,
      lagMs: { p50: percentile(lags, 50), p95: percentile(lags, 95), p99: percentile(lags, 99), max: Math.max(...lags) },
      heapMb: heap.map((h) => ({ ...h, mb: Math.round(h.mb * 10) / 10 })),
      domNodes: { first: domNodes[0], last: domNodes[domNodes.length - 1], max: Math.max(...domNodes) },
      streamPhases: [...phases],
    };
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, `console-load-${BOARDS}-boards.json`), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`      ${JSON.stringify(figures)}`);

    // A card draws at most its four newest lines a frame, so at 60 frames a second every line shows;
    // counted against what the boards printed, not planned (a loaded emulator prints fewer). Frames
    // and lag are speed figures: the full run (a benchmark, on a quiet machine) holds them to the
    // targets; the short run in npm test only proves the page keeps up at all, with no backlog that
    // grows for seconds, whatever else the machine is doing.
    expect(figures.linesPrinted).to.be.above(0);
    if (FULL) expect(figures.linesShown).to.be.at.least(0.9 * figures.linesPrinted);
    expect(figures.lagMs.p95).to.be.below(FULL ? 250 : 2_000);
    expect([...phases]).to.deep.equal(['live']);
    // The DOM does not grow: four lines per card, trimmed as new ones come.
    expect(figures.domNodes.max).to.be.at.most(figures.domNodes.first! * 1.05 + 50);
    // Bounded: console buffers fill up to their cap (1000 lines a board) and stay there.
    const peak = Math.max(...heap.map((h) => h.mb));
    expect(peak).to.be.below(40 + BOARDS * 0.5);
    if (FULL) {
      const buffersFull = heap.filter((h) => h.atS >= 60);
      expect(Math.max(...buffersFull.map((h) => h.mb)) - buffersFull[0]!.mb, 'heap grows after the console buffers are full').to.be.below(4);
    }
  });
});
