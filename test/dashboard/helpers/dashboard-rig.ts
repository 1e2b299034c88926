import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DaemonProcess } from '../../helpers/daemon-process.js';
import { DashboardBrowser } from './dashboard-browser.js';

/** What a dashboard test runs against: a daemon, in a state folder of its own, and a Chromium. */
export interface DashboardRig {
  stateDir: string;
  daemon: DaemonProcess;
  browser: DashboardBrowser;
}

/**
 * A fresh folder, the daemon `startDaemon` starts in it, and a Chromium, the
 * two started side by side. If either fails, what did start is stopped again.
 */
export async function startDashboardRig(folderPrefix: string, startDaemon: (folder: string) => Promise<DaemonProcess>): Promise<DashboardRig> {
  const stateDir = mkdtempSync(join(tmpdir(), folderPrefix));
  const [daemon, browser] = await Promise.allSettled([startDaemon(stateDir), DashboardBrowser.launch()]);
  if (daemon.status === 'fulfilled' && browser.status === 'fulfilled') return { stateDir, daemon: daemon.value, browser: browser.value };
  await stopDashboardRig({
    stateDir,
    daemon: daemon.status === 'fulfilled' ? daemon.value : undefined,
    browser: browser.status === 'fulfilled' ? browser.value : undefined,
  });
  throw daemon.status === 'rejected' ? daemon.reason : (browser as PromiseRejectedResult).reason;
}

/** Stops whatever of a rig is there and deletes its folder. */
export async function stopDashboardRig(rig: Partial<DashboardRig>): Promise<void> {
  await rig.browser?.close();
  await rig.daemon?.stop();
  if (rig.stateDir) rmSync(rig.stateDir, { recursive: true, force: true });
}

/** For afterEach: a script error in any tab that the assertions did not notice is still a failure. */
export function expectNoPageErrors(browser: DashboardBrowser | undefined): void {
  expect(browser?.takePageErrors() ?? []).to.deep.equal([]);
}
