import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { DaemonProcess } from '../helpers/daemon-process.js';
import type { DashboardBrowser } from './helpers/dashboard-browser.js';
import { expectNoPageErrors, startDashboardRig, stopDashboardRig } from './helpers/dashboard-rig.js';
import { writeEmulatedRig } from './helpers/emulated-rig-file.js';

/**
 * The Recover button of a board card, in Chromium against a real daemon with
 * one emulated board: it asks first ("Keep" sends nothing), then POSTs
 * /api/v1/boards/{id}/recover, toasts that the recovery is queued and, when the
 * run ends, its outcome; a viewer sees no Recover button.
 */
describe('the dashboard Recover button, in Chromium, against a real daemon with an emulated board', function () {
  this.timeout(300_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let browser: DashboardBrowser;
  let page: Page;

  before(async () => {
    ({ stateDir, daemon, browser } = await startDashboardRig('sphere-rig-recover-button-', (folder) => DaemonProcess.start({ rig: writeEmulatedRig(folder, 1), stateDir: folder })));
    page = await browser.open(daemon.url, daemon.token);
  });

  afterEach(() => expectNoPageErrors(browser));

  after(() => stopDashboardRig({ stateDir, daemon, browser }));

  const toast = (text: RegExp) => page.locator('.toast', { hasText: text });

  it('recovers a board from its card after a confirmation, and toasts that it was queued and how it ended', async () => {
    const card = page.locator('.board-card[data-board="emu-1"]');
    await card.locator('.health-badge[data-health="good"]').waitFor({ timeout: 120_000 });
    await card.locator('.checking-badge').waitFor({ state: 'detached', timeout: 120_000 });
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/recover')) posts.push(request.url());
    });

    // Changing one's mind sends nothing.
    await card.locator('[data-action="recover"]').click();
    await card.getByRole('button', { name: 'Keep' }).click();
    await card.locator('[data-action="recover"]').waitFor();
    expect(posts).to.deep.equal([]);

    await card.locator('[data-action="recover"]').click();
    expect(await card.locator('.confirm-question').innerText()).to.contain('Recover emu-1?');
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/boards/emu-1/recover')), card.locator('[data-confirm="recover"]').click()]);
    expect(answer.status()).to.equal(202);
    const { runId } = (await answer.json()) as { runId: string };
    await toast(/emu-1: recovery queued/).waitFor();
    // While it is pending the button says so.
    expect(await card.locator('[data-action="recover"]').isDisabled()).to.equal(true);

    const run = await daemon.waitForRun(runId, 240_000);
    const outcome = run.verdict === 'passed' ? /emu-1: recovered to the baseline OS/ : new RegExp(`emu-1: recovery ended ${run.verdict}`);
    await toast(outcome).waitFor({ timeout: 30_000 });
    expect(run).to.deep.include({ kind: 'health-check', scenario: 'recover-baseline', verdict: 'passed' });
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('.board-card[data-board="emu-1"] [data-action="recover"]')?.disabled === false);
    expect(posts).to.have.length(1);
  });

  it('shows a viewer no Recover button', async () => {
    const created = await daemon.request<{ token: string }>('POST', '/api/v1/tokens', { name: 'qa-viewer', role: 'viewer' });
    const viewer = await browser.open(daemon.url, created.body.token);
    try {
      await viewer.locator('.who[data-role="viewer"]').waitFor();
      await viewer.locator('.board-card[data-board="emu-1"]').waitFor();
      expect(await viewer.locator('[data-action="recover"]:visible').count()).to.equal(0);
      await viewer.evaluate(() => (window.location.hash = '#/boards/emu-1'));
      await viewer.locator('.board-view').waitFor();
      expect(await viewer.locator('[data-action="recover"]:visible').count()).to.equal(0);
    } finally {
      await viewer.close();
    }
  });
});
