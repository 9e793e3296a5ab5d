/**
 * Finds and launches the Chromium the browser tests drive. Playwright's own browser download cannot be
 * used here, so the tests run the system's Chromium (Debian's `chromium` package) through playwright-core.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

const DEFAULT_PATH = "/usr/bin/chromium";

/** The Chromium binary: `PARLEY_CHROMIUM`, else `/usr/bin/chromium`; throws how to install it if missing. */
export function chromiumPath(): string {
  const path = process.env.PARLEY_CHROMIUM ?? DEFAULT_PATH;
  if (!existsSync(path)) {
    throw new Error(
      `The browser tests need Chromium, and there is none at ${path}. ` +
        "Install it with `apt-get install chromium` (Debian/Ubuntu; it lands in /usr/bin/chromium), " +
        "or set PARLEY_CHROMIUM to the path of a Chromium or Chrome binary.",
    );
  }
  return path;
}

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"];

/** Launches headless Chromium. Close it in `afterAll`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ARGS });
}

/** Launches headless Chromium on a profile directory that outlives it, as a user's browser does. */
export function launchChromiumWithProfile(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath: chromiumPath(), headless: true, args: ARGS });
}

/**
 * The pid of the main Chromium process running on `profileDir` (the one without a `--type=` switch), so a
 * test can kill exactly the browser it launched.
 */
export function browserPid(profileDir: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (argv.includes(`--user-data-dir=${profileDir}`) && !argv.some((arg) => arg.startsWith("--type="))) {
      return Number(entry);
    }
  }
  throw new Error(`no Chromium process runs on ${profileDir}`);
}
