import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's chromium, as scripts/ensure-env.sh installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless Chromium, quiet: no background traffic of its own, which the offline check would count. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A folder for the screenshots of one test run (its path is printed, to look at them). */
export function screenshotDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "console-screens-"));
  console.error(`console screenshots: ${dir}`);
  return dir;
}

/** Lets the page reach `origin` only; every other request is aborted and remembered. */
export async function blockOtherOrigins(page: Page, origin: string): Promise<string[]> {
  const blocked: string[] = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  return blocked;
}

/** Polls `read` until it equals `expected` (what Playwright's own test runner calls web-first assertions). */
export async function settlesTo<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined);
    if (Bun.deepEquals(last, expected)) return;
    await Bun.sleep(50);
  }
  throw new Error(`expected ${JSON.stringify(expected)}, last saw ${JSON.stringify(last)}`);
}
