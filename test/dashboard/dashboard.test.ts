import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Page, Request } from 'playwright-core';
import { CuttableProxy } from './helpers/cuttable-proxy.js';
import { type DashboardBrowser, saveScreenshot } from './helpers/dashboard-browser.js';
import { expectNoPageErrors, startDashboardRig, stopDashboardRig } from './helpers/dashboard-rig.js';
import { DaemonProcess } from '../helpers/daemon-process.js';

const RIG = fileURLToPath(new URL('./fixtures/qa-rig.yaml', import.meta.url));
const SCENARIO_DIRS = [fileURLToPath(new URL('../daemon/fixtures/scenarios/', import.meta.url)), fileURLToPath(new URL('./fixtures/scenarios/', import.meta.url))];

/** Start a scenario from the rig page on the boards whose cards are ticked. */
async function startFromRigPage(page: Page, scenario: string, boards: string[]): Promise<string> {
  await page.evaluate(() => (window.location.hash = '#/rig'));
  await page.locator('form.start-run').waitFor();
  for (const board of boards) await page.locator(`[data-board="${board}"] input.select-board`).check();
  await page.selectOption('#run-scenario', scenario);
  await page.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
  return decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
}

/** Toasts are for the moment; screenshots are for later. */
async function dismissToasts(page: Page): Promise<void> {
  await page.evaluate(() => document.querySelectorAll('.toast').forEach((toast) => toast.remove()));
}

describe('the QA dashboard, in Chromium, against a real daemon with emulated boards', function () {
  this.timeout(120_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  let browser: DashboardBrowser;
  let page: Page;

  before(async () => {
    ({ stateDir, daemon, browser } = await startDashboardRig('sphere-rig-dashboard-', (folder) => DaemonProcess.start({ rig: RIG, stateDir: folder, scenarios: SCENARIO_DIRS })));
    page = await browser.open(daemon.url, daemon.token);
  });

  afterEach(() => expectNoPageErrors(browser));

  after(() => stopDashboardRig({ stateDir, daemon, browser }));

  it('shows every board of the rig as a card, the four emulated ones reaching ready', async () => {
    // The token left the address bar as soon as the page read it.
    expect(page.url()).to.not.contain('token=');
    for (const id of ['emu-1', 'emu-2', 'emu-3', 'emu-4']) await page.locator(`.board-card[data-board="${id}"][data-state="ready"]`).waitFor({ timeout: 30_000 });
    await page.locator('.board-card[data-board="bench-1"][data-state="offline"]').waitFor();
    expect(await page.locator('.board-card').count()).to.equal(5);
    const card = page.locator('.board-card[data-board="emu-1"]');
    const facts = await card.locator('.facts').innerText();
    expect(facts).to.match(/OS\s+22\.11/);
    expect(facts).to.contain('Baseline App (running)');
    expect(facts).to.match(/attested · expires in \d+ h/);
    expect(facts).to.contain('free');
    const { body: boards } = await daemon.request<Array<{ id: string; deviceId: string; offlineReason?: string }>>('GET', '/api/v1/boards');
    const deviceId = boards.find((b) => b.id === 'emu-1')!.deviceId;
    expect(await card.locator('code.device-id').getAttribute('title')).to.equal(deviceId);
    expect((await card.locator('code.device-id').innerText()).length).to.be.lessThan(20);
    await card.locator('.console-tail .line').first().waitFor();
    expect(await page.locator('.board-card[data-board="bench-1"] [data-state="offline"]').innerText()).to.contain('Offline');
    const summary = await page.locator('.rig-summary').innerText();
    expect(summary).to.match(/^5 boards: /);
    expect(summary).to.contain('4 ready').and.to.contain('1 offline');
    // Health beside state: the emulated boards passed their start-up health check; the absent real board is unhealthy.
    for (const id of ['emu-1', 'emu-2', 'emu-3', 'emu-4']) await page.locator(`.board-card[data-board="${id}"] .health-badge[data-health="good"]`).waitFor({ timeout: 30_000 });
    const bench = page.locator('.board-card[data-board="bench-1"]');
    await bench.locator('.health-badge[data-health="bad"]').waitFor();
    // Why it is offline, as a sentence; the daemon's words one click away.
    const offlineReason = boards.find((b) => b.id === 'bench-1')!.offlineReason!;
    const problem = bench.locator('details[data-problem="offline"]');
    expect(await problem.locator('summary').innerText()).to.match(/^The board is offline: /).and.not.to.contain(offlineReason);
    expect(await problem.locator('.raw-detail').isVisible()).to.equal(false);
    await problem.locator('summary').click();
    expect(await problem.locator('.raw-detail').innerText()).to.equal(offlineReason);
    await saveScreenshot(page, 'rig.png');
  });

  it('starts update-rollback from the page and follows its steps live to the verdict, console and report', async () => {
    // Record, frame by frame, how many steps the page shows as finished.
    // (Scripts run in the page are strings: tsx would wrap named functions in a helper the page lacks.)
    await page.evaluate(`(() => {
      const seen = (window.stepCounts = []);
      requestAnimationFrame(function sample() {
        const done = document.querySelectorAll('.run-view .step[data-status="finished"]').length;
        if (seen[seen.length - 1] !== done) seen.push(done);
        requestAnimationFrame(sample);
      });
    })()`);
    const runId = await startFromRigPage(page, 'update-rollback', ['emu-2']);
    await page.locator('.run-head [data-verdict="passed"]').waitFor({ timeout: 60_000 });
    const counts = await page.evaluate(() => (window as unknown as { stepCounts: number[] }).stepCounts);
    const record = (await daemon.request<{ steps: Array<{ name: string; matchedConsoleLines: number[] }> }>('GET', `/api/v1/runs/${runId}`)).body;
    const stepCount = record.steps.length;
    expect(stepCount).to.be.greaterThan(10);
    // Steps turned finished over several frames as their events arrived, not all at once at the end.
    expect(counts.filter((n) => n > 0 && n < stepCount).length, `finished-step counts seen: ${counts.join(',')}`).to.be.at.least(2);
    expect(await page.locator('.run-view .step').count()).to.equal(stepCount);
    expect(await page.locator('.run-view .step[data-verdict="passed"]').count()).to.equal(stepCount);
    const rolledBack = record.steps.findIndex((s) => s.name.startsWith('rolled back'));
    expect(await page.locator(`.step[data-index="${rolledBack}"] .step-name`).innerText()).to.equal('rolled back; the good version runs again');

    // Measurements against limits, provenance, error reports.
    expect(await page.locator('.measurements').innerText()).to.match(/install time[\s\S]*ms/);
    expect(await page.locator('.measurements').innerText()).to.contain('AppCrash events');
    const provenance = await page.locator('.provenance').innerText();
    expect(provenance).to.match(/good\s+image\s+sha256:/);
    expect(provenance).to.contain('CN=sphere-rig production app signing');
    const reports = await page.locator('.error-reports').innerText();
    expect(reports).to.contain('AppCrash');
    expect(reports).to.contain('Rollback');
    expect(reports).to.contain('signal_status=11');

    // The console of the run: the boot after the reset on the recovery UART, the emulator-only trace marked
    // as such, and the line the step matched marked.
    const consoleText = await page.locator('.run-view .console-lines').innerText();
    expect(consoleText).to.contain('[PLUTON] Booting HLOS core');
    expect(consoleText).to.contain('[OS] services up');
    expect(await page.locator('.run-view .console-lines .channel-tag.emulator-only').count()).to.be.greaterThan(0);
    const matched = record.steps.flatMap((s) => s.matchedConsoleLines);
    expect(matched.length).to.be.at.least(1);
    for (const seq of matched) expect(await page.locator(`.console-lines .line.matched[data-seq="${seq}"] .match-tag`).count()).to.equal(1);
    // A step's "◆ console" button brings its matched line into view.
    const matching = record.steps.findIndex((s) => s.matchedConsoleLines.length > 0);
    await page.locator(`.step[data-index="${matching}"] .match-jump`).click();
    const flashed = page.locator('.run-view .console-lines .line.flash');
    expect(await flashed.getAttribute('data-seq')).to.equal(String(record.steps[matching]!.matchedConsoleLines.at(-1)));
    await page.locator('.run-view .console-lines').evaluate((box) => box.scrollTop = box.scrollHeight);
    await dismissToasts(page);
    await saveScreenshot(page, 'run-report.png', true);

    // Searching narrows the console to matching lines and marks the match.
    await page.locator('.run-view .console-search').fill('rolled back');
    await page.waitForFunction(() => document.querySelectorAll('.run-view .console-lines .line').length === document.querySelectorAll('.run-view .console-lines .line mark').length);
    expect(await page.locator('.run-view .console-lines .line').count()).to.be.within(1, 3);
    expect(await page.locator('.run-view .console-count').innerText()).to.match(/\d+ of \d+ lines match/);
    await page.locator('.run-view .console-search').fill('');

    // JUnit and JSON downloads carry the token; the page saves them as files.
    const [junit] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download="junit"]').click()]);
    const junitText = readFileSync((await junit.path())!, 'utf8');
    expect(junit.suggestedFilename()).to.equal(`update-rollback-${runId}.xml`);
    expect(junitText).to.contain('<testsuite');
    const [json] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download="json"]').click()]);
    expect(JSON.parse(readFileSync((await json.path())!, 'utf8'))).to.deep.include({ id: runId, verdict: 'passed' });

    // The board's card shows it as its last verdict, leading back to the run.
    await page.evaluate(() => (window.location.hash = '#/rig'));
    const lastRun = page.locator(`.board-card[data-board="emu-2"] .last-run[data-run="${runId}"]`);
    await lastRun.locator('[data-verdict="passed"]').waitFor({ timeout: 10_000 });
    expect(await lastRun.getByRole('link', { name: 'update-rollback' }).getAttribute('href')).to.equal(`#/runs/${runId}`);
  });

  it('cancels a running scenario from the page, by keyboard', async () => {
    await page.evaluate(() => (window.location.hash = '#/rig'));
    await page.locator('[data-board="emu-3"] input.select-board').focus();
    await page.keyboard.press('Space');
    await page.selectOption('#run-scenario', 'slow');
    await page.getByRole('button', { name: 'Start run' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
    const runId = decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
    try {
      await page.locator('.run-head [data-verdict="running"]').waitFor({ timeout: 20_000 });
      // The rig shows the board busy with it, and its card leads back to the run.
      await page.evaluate(() => (window.location.hash = '#/rig'));
      const card = page.locator('.board-card[data-board="emu-3"][data-state="running"]');
      await card.waitFor();
      await page.waitForFunction(() => /Held by\s+run [0-9a-f]{8}/.test(document.querySelector<HTMLElement>('.board-card[data-board="emu-3"] .facts')!.innerText));
      await dismissToasts(page);
      await saveScreenshot(page, 'rig-busy.png');
      // A health check asked now waits at the head of the board's queue: the card says a check is pending.
      const [checkAnswer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/boards/emu-3/health-check')), card.locator('[data-action="health-check"]').click()]);
      expect(checkAnswer.status()).to.equal(202);
      await card.locator('.checking-badge').waitFor({ timeout: 5_000 });
      expect(await card.locator('[data-action="health-check"]').isDisabled()).to.equal(true);
      await card.getByRole('link', { name: 'slow' }).click();
      await page.waitForURL(new RegExp(`#/runs/${runId}$`));
      // The confirmation takes the focus, so Enter again confirms.
      await page.locator('.run-head [data-action="cancel"]').focus();
      await page.keyboard.press('Enter');
      await page.locator('.run-head [data-confirm="cancel"]:focus').waitFor({ timeout: 5_000 });
      // The header redraws while the run goes on (its elapsed time ticks): the pending confirmation keeps the focus across that.
      const metaBefore = await page.locator('.run-head .run-meta').evaluate((element) => element.textContent);
      await page.waitForFunction((before) => document.querySelector('.run-head .run-meta')?.textContent !== before, metaBefore, { timeout: 5_000 });
      expect(await page.locator('.run-head [data-confirm="cancel"]:focus').count()).to.equal(1);
      await page.keyboard.press('Enter');
      await page.locator('.run-head [data-verdict="cancelled"]').waitFor({ timeout: 20_000 });
      expect((await daemon.request<{ verdict: string }>('GET', `/api/v1/runs/${runId}`)).body.verdict).to.equal('cancelled');
      expect(await page.locator('.verdict-note').innerText()).to.contain('Cancelled');
      // The check ran once the board was free: healthy, nothing pending.
      await page.evaluate(() => (window.location.hash = '#/rig'));
      await page.locator('.board-card[data-board="emu-3"] .health-badge[data-health="good"]').waitFor({ timeout: 30_000 });
      await page.locator('.board-card[data-board="emu-3"] .checking-badge').waitFor({ state: 'detached', timeout: 30_000 });
    } finally {
      // Never leave the slow run holding its board for the tests after this one.
      await daemon.request('POST', `/api/v1/runs/${runId}/cancel`);
    }
  });

  it('asks for a token when it has none, and says when the daemon refuses one', async () => {
    const tab = await browser.context.newPage();
    try {
      await tab.goto(`${daemon.url}/`);
      await tab.getByLabel('API token').fill('srt_not_a_token');
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.locator('.login [role="alert"]').waitFor({ timeout: 15_000 });
      expect(await tab.locator('.login [role="alert"]').innerText()).to.contain('refused the token');
      await tab.getByLabel('API token').fill(daemon.token);
      await tab.getByLabel('API token').press('Enter');
      await tab.locator('.board-card[data-board="emu-1"]').waitFor();
      expect(await tab.evaluate(() => sessionStorage.length)).to.equal(1);
    } finally {
      await tab.close();
    }
  });

  it('gives a viewer token no controls, and the daemon refuses it anyway', async () => {
    const created = await daemon.request<{ token: string }>('POST', '/api/v1/tokens', { name: 'qa-viewer', role: 'viewer' });
    expect(created.status).to.equal(201);
    const viewer = await browser.open(daemon.url, created.body.token);
    try {
      await viewer.locator('.who[data-role="viewer"]').waitFor();
      expect(await viewer.locator('.who').innerText()).to.equal('qa-viewer · viewer');
      await viewer.locator('.read-only-note').waitFor();
      await viewer.locator('.board-card[data-board="emu-1"][data-state="ready"]').waitFor({ timeout: 30_000 });
      expect(await viewer.locator('form.start-run').count()).to.equal(0);
      expect(await viewer.locator('.board-card [data-action="power-cycle"]:visible, .board-card [data-action="reset"]:visible').count()).to.equal(0);
      // Nothing a viewer cannot use: no boxes picking boards for runs, no health check, maintenance or power buttons.
      expect(await viewer.locator('.board-card input.select-board').count()).to.equal(5);
      expect(await viewer.locator('.board-card input.select-board:visible').count()).to.equal(0);
      expect(await viewer.locator('.board-card [data-action]:visible').count()).to.equal(0);
      // The board page too; the console download (reading) stays.
      await viewer.evaluate(() => (window.location.hash = '#/boards/emu-1'));
      await viewer.locator('.board-view .run-title .health-badge[data-health="good"]').waitFor();
      expect(await viewer.locator('.board-view [data-action]:visible').count()).to.equal(0);
      expect(await viewer.locator('.board-view [data-download="board-console"]').isVisible()).to.equal(true);
      // A run page offers downloads but no cancel.
      const { body } = await daemon.request<{ runs: Array<{ id: string }> }>('GET', '/api/v1/runs?status=finished&limit=1');
      await viewer.evaluate((id) => (window.location.hash = `#/runs/${id}`), body.runs[0]!.id);
      await viewer.locator('.run-head [data-download="junit"]').waitFor();
      expect(await viewer.locator('[data-action="cancel"]').count()).to.equal(0);
      // Hidden controls are not the protection: the daemon answers 403 to this token.
      const statuses = await viewer.evaluate(async (token) => {
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        const run = await fetch('/api/v1/runs', { method: 'POST', headers, body: JSON.stringify({ scenario: 'boot-smoke', boardId: 'emu-1' }) });
        const reset = await fetch('/api/v1/boards/emu-1/actions', { method: 'POST', headers, body: JSON.stringify({ action: 'reset' }) });
        return [run.status, reset.status];
      }, created.body.token);
      expect(statuses).to.deep.equal([403, 403]);
    } finally {
      await viewer.close();
    }
  });

  it('shows board health live: maintenance set elsewhere, drained boards not offered for runs, the toggle back to service', async () => {
    await page.evaluate(() => (window.location.hash = '#/rig'));
    const card = page.locator('.board-card[data-board="emu-1"]');
    await card.locator('.health-badge[data-health="good"]').waitFor({ timeout: 30_000 });
    // Someone else drains the board: the stream says so (well before the page's 30 s board refresh).
    await daemon.request('PUT', '/api/v1/boards/emu-1/health', { status: 'maintenance', reason: 'reseating the USB cable' });
    await card.locator('.health-badge[data-health="maintenance"]').waitFor({ timeout: 10_000 });
    expect(await card.locator('.health-badge').getAttribute('title')).to.contain('reseating the USB cable');
    const toggle = card.locator('[data-action="maintenance"]');
    await page.waitForFunction(() => document.querySelector('.board-card[data-board="emu-1"] [data-action="maintenance"]')?.getAttribute('aria-pressed') === 'true');
    // A drained board cannot be picked for a run, and a run by tags says it will not go there.
    expect(await card.locator('input.select-board').isDisabled()).to.equal(true);
    await page.locator('#run-tags').fill('emulated');
    await page.waitForFunction(() => document.querySelector('.start-run .tags-note')?.textContent === 'Not sent to emu-1 (in maintenance).');
    await page.locator('#run-tags').fill('');
    await dismissToasts(page);
    await saveScreenshot(page, 'rig-maintenance.png');
    // Back to service from the card: unchecked, so a health check runs first, then it is healthy and can be picked again.
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/boards/emu-1/health') && r.request().method() === 'PUT'), toggle.click()]);
    expect(answer.request().postDataJSON()).to.deep.equal({ status: 'unknown' });
    await card.locator('.health-badge[data-health="good"]').waitFor({ timeout: 30_000 });
    await card.locator('.checking-badge').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await toggle.getAttribute('aria-pressed')).to.equal('false');
    expect(await card.locator('input.select-board').isDisabled()).to.equal(false);
  });

  it('powers an off board on from its card, saying in words why it cannot be read meanwhile', async () => {
    await page.evaluate(() => (window.location.hash = '#/rig'));
    const card = page.locator('.board-card[data-board="emu-4"]');
    await card.locator('[data-action="reset"]').waitFor();
    expect(await card.locator('[data-action="power-on"]').isVisible()).to.equal(false);
    expect((await daemon.request('POST', '/api/v1/boards/emu-4/actions', { action: 'power-off' })).status).to.equal(200);
    await page.locator('.board-card[data-board="emu-4"][data-state="off"]').waitFor({ timeout: 10_000 });
    // Reading the board fails while it is off: a sentence, and the daemon's words behind it.
    const problem = card.locator('details[data-problem="error"]');
    await problem.waitFor({ timeout: 10_000 });
    expect(await problem.locator('summary').innerText()).to.match(/^The board did not answer its device API: it has no power/);
    await problem.locator('summary').click();
    expect(await problem.locator('.raw-detail').innerText()).to.equal('info: read refused: the flash has no power');
    // Off: "Power on" is offered and reset is not.
    expect(await card.locator('[data-action="reset"]').isVisible()).to.equal(false);
    await card.locator('[data-action="power-on"]').click();
    await page.locator('.board-card[data-board="emu-4"][data-state="ready"]').waitFor({ timeout: 30_000 });
    await card.locator('[data-action="power-on"]').waitFor({ state: 'hidden' });
    await problem.waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('gives a board page its health, a health check, a console download, and toasts that keep clear of the console', async () => {
    await page.evaluate(() => (window.location.hash = '#/boards/emu-1'));
    const view = page.locator('.board-view');
    await view.locator('.run-title .health-badge[data-health="good"]').waitFor({ timeout: 30_000 });
    await view.locator('.console-lines .line').first().waitFor();
    // A health check from the page: its run becomes the board's last check.
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/boards/emu-1/health-check')), view.locator('[data-action="health-check"]').click()]);
    const { runId } = (await answer.json()) as { runId: string };
    await view.locator(`.last-check[data-run="${runId}"] [data-verdict="passed"]`).waitFor({ timeout: 30_000 });
    expect(await view.locator('.facts').innerText()).to.match(/Health\s+♥\s*Healthy/);
    // Into maintenance and out again: with the check's, three toasts, none over the console.
    await view.locator('[data-action="maintenance"][aria-pressed="false"]').click();
    await view.locator('.run-title .health-badge[data-health="maintenance"]').waitFor();
    await view.locator('[data-action="maintenance"][aria-pressed="true"]').click();
    await page.waitForFunction(() => document.querySelectorAll('.toasts .toast').length >= 3);
    const [toasts, consolePanel] = await Promise.all([page.locator('.toasts').boundingBox(), view.locator('.console-panel').boundingBox()]);
    const overlaps = (a: typeof toasts, b: typeof toasts) => a!.x < b!.x + b!.width && b!.x < a!.x + a!.width && a!.y < b!.y + b!.height && b!.y < a!.y + a!.height;
    expect(overlaps(toasts, consolePanel), `toasts ${JSON.stringify(toasts)} over the console ${JSON.stringify(consolePanel)}`).to.equal(false);
    await saveScreenshot(page, 'board-page.png');
    // In a lower window the page scrolls and the sticky console moves with it: the toasts still keep clear.
    await page.setViewportSize({ width: 1280, height: 560 });
    try {
      await page.mouse.move(300, 300);
      await page.mouse.wheel(0, 300);
      await page.waitForFunction(() => window.scrollY > 0);
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      const [toastsScrolled, consoleScrolled] = await Promise.all([page.locator('.toasts').boundingBox(), view.locator('.console-panel').boundingBox()]);
      expect(overlaps(toastsScrolled, consoleScrolled), `toasts ${JSON.stringify(toastsScrolled)} over the console ${JSON.stringify(consoleScrolled)}`).to.equal(false);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    // The console as a text file, named after the board and the time.
    const [download] = await Promise.all([page.waitForEvent('download'), view.locator('[data-download="board-console"]').click()]);
    expect(download.suggestedFilename()).to.match(/^emu-1-console-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.txt$/);
    const lines = readFileSync((await download.path())!, 'utf8').trimEnd().split('\n');
    expect(lines.length).to.be.greaterThan(20);
    for (const line of lines) expect(line).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(lines.some((line) => line.includes('[OS] services up'))).to.equal(true);
    await view.locator('.run-title .health-badge[data-health="good"]').waitFor({ timeout: 30_000 });
  });

  it('offers declared scenario parameters, checks them before sending, sends only those filled in, and shows the daemon refusing one', async () => {
    await page.evaluate(() => (window.location.hash = '#/rig'));
    await page.locator('form.start-run').waitFor();
    const posted: unknown[] = [];
    const onRequest = (request: Request): void => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/runs') posted.push(request.postDataJSON());
    };
    page.on('request', onRequest);
    try {
      await page.locator('[data-board="emu-2"] input.select-board').check();
      await page.selectOption('#run-scenario', 'declared-params');
      const attempts = page.locator('#run-param-attempts');
      expect(await attempts.getAttribute('placeholder')).to.equal('');
      expect(await page.locator('[data-param-field="attempts"] .param-hint').innerText()).to.equal('how many times to look (not used by the steps) · whole number, 1–5');
      expect(await page.locator('#run-param-expectedState').getAttribute('placeholder')).to.equal('ready');
      // Out of range: said under the field, naming it, and nothing is sent.
      await attempts.fill('9');
      await page.getByRole('button', { name: 'Start run' }).click();
      await page.locator('#run-param-attempts-error:not([hidden])').waitFor();
      expect(await page.locator('#run-param-attempts-error').innerText()).to.equal('attempts must be between 1 and 5');
      expect(await attempts.getAttribute('aria-invalid')).to.equal('true');
      expect(await page.locator('.start-run .form-status').innerText()).to.equal('Not started: attempts must be between 1 and 5');
      expect(posted).to.deep.equal([]);
      // A value only the daemon can judge (the state the step waits for): its refusal is shown beside the form.
      await attempts.fill('');
      await page.locator('#run-param-expectedState').fill('sideways');
      await page.getByRole('button', { name: 'Start run' }).click();
      await page.waitForFunction(() => /^Not started: .*must be equal to one of the allowed values/.test(document.querySelector('.start-run .form-status')?.textContent ?? ''));
      expect(posted).to.deep.equal([{ scenario: 'declared-params', boardId: 'emu-2', params: { expectedState: 'sideways' } }]);
      await dismissToasts(page);
      await saveScreenshot(page, 'start-run-params.png');
      // Nothing filled in: no parameters sent at all, and the run goes with the defaults.
      await page.locator('#run-param-expectedState').fill('');
      await page.getByRole('button', { name: 'Start run' }).click();
      await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
      expect(posted[1]).to.deep.equal({ scenario: 'declared-params', boardId: 'emu-2' });
      await page.locator('.run-head [data-verdict="passed"]').waitFor({ timeout: 30_000 });
    } finally {
      page.off('request', onRequest);
    }
  });

  it('shows history: pass rate per scenario and board over time, flaky scenarios and infra errors', async () => {
    const runs = [...(await daemon.submit({ scenario: 'os-version-check', tags: ['emulated'] })), ...(await daemon.submit({ scenario: 'rig-mistake', boardId: 'emu-1' }))];
    for (const id of runs) await daemon.waitForRun(id);
    // One more from the page, with a parameter the board cannot meet: what a failed run looks like.
    await page.evaluate(() => (window.location.hash = '#/rig'));
    await page.locator('[data-board="emu-4"] input.select-board').check();
    await page.selectOption('#run-scenario', 'os-version-check');
    await page.locator('#run-param-osVersion').fill('99.1');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.locator('.run-head [data-verdict="test-failed"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('.verdict-note').innerText()).to.contain('os-version = 22.11 is outside its limits');
    expect(await page.locator('.measurements tr.row-problem').innerText()).to.match(/os-version\s+22\.11\s+= 99\.1\s+✗ outside/);
    expect(await page.locator('.provenance').innerText()).to.contain('{"osVersion":"99.1"}');
    await dismissToasts(page);
    await saveScreenshot(page, 'run-report-failed.png', true);

    await page.evaluate(() => (window.location.hash = '#/history'));
    await page.locator('.history-view .tiles').waitFor();
    // (A line at a steady rate is flat, no height: a marker is what shows the chart is drawn.)
    await page.locator('.chart circle, .chart rect').first().waitFor();
    expect(await page.locator('[data-flaky="os-version-check"]').innerText()).to.match(/os-version-check\s+4\s+1/);
    // The run the rig itself got wrong (its health checks count among the board's runs).
    expect(await page.locator('[data-infra-board="emu-1"]').innerText()).to.match(/emu-1\s+1\s+\d+ \(\d+%\)\s+certificate without an attestation/);
    // Health checks are listed with the runs, marked as such, and are never flaky.
    await page.locator('.history-view tr[data-kind="health-check"] .kind-tag').first().waitFor();
    expect(await page.locator('[data-flaky="health-check"]').count()).to.equal(0);
    expect(await page.locator('.history-view [data-scenario="update-rollback"]').innerText()).to.contain('100%');
    // Every run has ended, and the page knows (the Runs tab counts none).
    await page.locator('nav .count').waitFor({ state: 'hidden', timeout: 10_000 });
    await dismissToasts(page);
    await saveScreenshot(page, 'history.png', true);

    // Filters narrow the runs and live in the URL.
    await page.selectOption('#history-scenario', 'os-version-check');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/#\/history\?scenario=os-version-check/);
    await page.waitForFunction(() => document.querySelectorAll('.history-view tr[data-run]').length === 5);
    const scenarios = await page.locator('.history-view tr[data-run] td:nth-child(2)').allInnerTexts();
    expect(new Set(scenarios)).to.deep.equal(new Set(['os-version-check']));
    await page.selectOption('#history-verdict', 'test-failed');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.history-view tr[data-run]').length === 1);
  });

  it('reloads the run list of a board page only for runs on that board, and the history only when a run ends', async () => {
    const listed: string[] = [];
    const onRequest = (request: Request): void => {
      const url = new URL(request.url());
      if (url.pathname === '/api/v1/runs') listed.push(url.search);
    };
    page.on('request', onRequest);
    const boardLists = () => listed.filter((query) => query.includes('board=emu-3')).length;
    const historyLists = () => listed.filter((query) => query.includes('limit=1000') && query.includes('status=finished')).length;
    try {
      const firstList = page.waitForResponse((response) => response.url().includes('/api/v1/runs?board=emu-3'));
      await page.evaluate(() => (window.location.hash = '#/boards/emu-3'));
      await firstList;
      // A run on another board: its events change nothing this page lists (the list waits 1 s before reloading).
      const [elsewhere] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-1' });
      await daemon.waitForRun(elsewhere!);
      await delay(1_500);
      expect(boardLists()).to.equal(1);
      const [here] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-3' });
      await page.locator(`.board-view tr[data-run="${here}"] [data-verdict="passed"]`).waitFor({ timeout: 60_000 });

      // The history lists finished runs: a run that starts and goes on is no reason to reload it (it waits 3 s).
      const firstHistory = page.waitForResponse((response) => response.url().includes('/api/v1/runs?limit=1000'));
      await page.evaluate(() => (window.location.hash = '#/history'));
      await firstHistory;
      const [slow] = await daemon.submit({ scenario: 'slow', boardId: 'emu-4' });
      try {
        await page.locator('nav .count:not([hidden])').waitFor({ timeout: 20_000 });
        await delay(3_500);
        expect(historyLists()).to.equal(1);
      } finally {
        await daemon.request('POST', `/api/v1/runs/${slow}/cancel`);
      }
      await daemon.waitForRun(slow!);
      await delay(3_500);
      expect(historyLists()).to.equal(2);
    } finally {
      page.off('request', onRequest);
    }
  });

  it('rides out a network drop and catches up on what it missed, from the last event it saw', async () => {
    const proxy = await CuttableProxy.start(daemon.url);
    const tab = await browser.open(proxy.url, daemon.token);
    try {
      await tab.locator('.board-card[data-board="emu-1"][data-state="ready"]').waitFor({ timeout: 30_000 });
      await tab.locator('.connection[data-phase="live"]').waitFor();
      proxy.cut();
      await tab.locator('.connection[data-phase="offline"]').waitFor({ timeout: 10_000 });
      const cutAt = Date.now();
      // While the page is cut off, emu-1 power-cycles and boots in a run.
      const [run] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-1' });
      expect((await daemon.waitForRun(run!)).verdict).to.equal('passed');
      proxy.restore();
      await tab.locator('.connection[data-phase="live"]').waitFor({ timeout: 20_000 });
      // The boot's console lines only ever reached the page through the stream's replay.
      const tail = tab.locator('.board-card[data-board="emu-1"] .console-tail .line time');
      await tab.waitForFunction((since) => Array.from(document.querySelectorAll('.board-card[data-board="emu-1"] .console-tail .line time')).some((t) => Date.parse((t as HTMLTimeElement).dateTime) > since), cutAt);
      expect(await tail.count()).to.be.greaterThan(0);
      await tab.evaluate((id) => (window.location.hash = `#/runs/${id}`), run!);
      await tab.locator('.run-head [data-verdict="passed"]').waitFor();
    } finally {
      await tab.close();
      await proxy.close();
    }
  });

  it('reconnects by itself after the daemon is killed and restarted, and shows what finished meanwhile', async () => {
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
      window.location.hash = '#/runs';
    });
    const [slow] = await daemon.submit({ scenario: 'slow', boardId: 'emu-4' });
    await page.locator(`.runs-view tr[data-run="${slow}"][data-status="running"]`).waitFor({ timeout: 20_000 });
    const seqBefore = Number((await page.locator('.connection').getAttribute('title'))!.replace(/\D/g, ''));

    await daemon.stop('SIGKILL');
    await page.locator('.connection[data-phase="offline"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.banner').innerText()).to.match(/Offline\. Lost the connection to the daemon/);
    await dismissToasts(page);
    await saveScreenshot(page, 'offline.png');

    daemon = await daemon.restart();
    await page.locator('.connection[data-phase="live"]').waitFor({ timeout: 30_000 });
    // The run the daemon was killed in is finished now, as interrupted: the page learns it without a reload.
    await page.locator(`.runs-view tr[data-run="${slow}"][data-verdict="infra-error"]`).waitFor({ timeout: 15_000 });
    expect(await page.locator(`.runs-view tr[data-run="${slow}"]`).innerText()).to.contain('interrupted');
    // New runs stream in as before, carrying on from the last event seen.
    const [again] = await daemon.submit({ scenario: 'boot-smoke', boardId: 'emu-1' });
    await page.locator(`.runs-view tr[data-run="${again}"][data-verdict="passed"]`).waitFor({ timeout: 60_000 });
    const seqAfter = Number((await page.locator('.connection').getAttribute('title'))!.replace(/\D/g, ''));
    expect(seqAfter).to.be.greaterThan(seqBefore);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).to.equal(true);
  });
});
