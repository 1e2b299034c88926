import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (which never downloads a browser),
 * headless, with a fresh profile, and kept on loopback: the flags stop its
 * background traffic and any request to another host is aborted.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export class DashboardBrowser {
  /** Uncaught errors of any tab's scripts since the last takePageErrors(): a test checks there were none. */
  #pageErrors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    private readonly profile: string,
  ) {
    context.on('page', (page) => page.on('pageerror', (error) => this.#pageErrors.push(`${page.url()}: ${error.message}`)));
  }

  /** The page errors gathered so far, and a fresh start. */
  takePageErrors(): string[] {
    return this.#pageErrors.splice(0);
  }

  static async launch(): Promise<DashboardBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (listed in .ci/apt-packages)`);
    const profile = mkdtempSync(join(tmpdir(), 'sphere-rig-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
      timezoneId: 'UTC',
      locale: 'en-GB',
    });
    await context.route(/.*/, (route) => {
      const { hostname, protocol } = new URL(route.request().url());
      if (['127.0.0.1', 'localhost', '[::1]'].includes(hostname) || protocol === 'data:' || protocol === 'blob:') return route.continue();
      return route.abort('blockedbyclient');
    });
    return new DashboardBrowser(context, profile);
  }

  /** A new tab signed in with `token` through the URL fragment, as a shared link would. */
  async open(url: string, token: string, route = ''): Promise<Page> {
    const page = await this.context.newPage();
    await page.goto(`${url}/#token=${encodeURIComponent(token)}${route ? `&${route}` : ''}`);
    return page;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** Saves a screenshot under test-artifacts/dashboard/ for people to look at. */
export async function saveScreenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage });
  return path;
}
