/**
 * Finds and launches the Chromium the browser tests drive. Playwright's own browser download cannot be
 * used here, so the tests run the system's Chromium (Debian's `chromium` package) through playwright-core.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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

/** Launches headless Chromium. Close it in `afterAll`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
