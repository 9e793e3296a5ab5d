/**
 * The client's browser bundle in real Chromium against a real relay: it builds without Node built-ins
 * (the directory store lives in `@parley/client/node`), stores in IndexedDB by default, and follows the
 * browser's `offline` / `online` events (Playwright's network emulation fires them).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser/support/chromium.js";
import { type FixturePage, serveFixturePage } from "./support/fixture-page.js";
import { type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";

const FIXTURE_DIR = fileURLToPath(new URL("./browser/fixtures/client/", import.meta.url));

interface PageClient {
  status: string;
  messages(): Array<{ text: string; status: string }>;
  send(text: string): Promise<unknown>;
  flush(): Promise<void>;
  on(event: "status", listener: (status: string) => void): () => void;
  ready: Promise<void>;
}

declare global {
  interface Window {
    testClient: PageClient;
    statuses: string[];
  }
}

describe("the client in Chromium", () => {
  let fixture: FixturePage;
  let outDir: string;
  let url: string;
  let browser: Browser;
  let relay: RelayHandle;

  beforeAll(async () => {
    relay = await startRelay();
    fixture = await serveFixturePage(FIXTURE_DIR);
    outDir = fixture.outDir;
    url = fixture.url;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
    await relay?.stop();
  });

  it("bundles without Node built-ins", async () => {
    const files = await readdir(join(outDir, "assets"));
    const scripts = files.filter((file) => file.endsWith(".js"));
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      // Vite swaps a Node built-in for a `__vite-browser-external` stub module when a bundle pulls one.
      expect(file).not.toContain("browser-external");
      const code = await readFile(join(outDir, "assets", file), "utf8");
      expect(code).not.toMatch(/browser-external|node:fs|fs\/promises|node:path/);
    }
  });

  it("drops its socket when the browser goes offline and reconnects when it is back online", async () => {
    const context = await browser.newContext();
    try {
      const page: Page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => document.title === "ready");
      await page.evaluate(
        async ([relayUrl, appId]) => {
          window.statuses = [];
          const client = window.parleyClientFixture.createClient({ appId, relayUrl }) as unknown as PageClient;
          client.on("status", (status) => window.statuses.push(status));
          window.testClient = client;
          await client.ready;
        },
        [relay.url, TEST_APP.id] as const,
      );
      await page.waitForFunction(() => window.testClient.status === "online", undefined, { timeout: 20_000 });

      await context.setOffline(true);
      await page.waitForFunction(() => window.testClient.status !== "online", undefined, { timeout: 20_000 });
      expect(await page.evaluate(() => navigator.onLine)).toBe(false);
      await page.evaluate(() => window.testClient.send("written offline"));

      await context.setOffline(false);
      await page.waitForFunction(() => window.testClient.status === "online", undefined, { timeout: 20_000 });
      await page.evaluate(() => window.testClient.flush());
      const shown = await page.evaluate(() => window.testClient.messages().map((m) => [m.text, m.status]));
      expect(shown).toEqual([["written offline", "sent"]]);
      const statuses = await page.evaluate(() => window.statuses);
      expect(statuses.indexOf("offline")).toBeGreaterThan(statuses.indexOf("online"));
    } finally {
      await context.close();
    }
  }, 60_000);
});
