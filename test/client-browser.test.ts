/**
 * The client's browser bundle in real Chromium against a real relay: it builds without Node built-ins
 * (the directory store lives in `@parley/client/node`), stores in IndexedDB by default, and follows the
 * browser's `offline` / `online` events (Playwright's network emulation fires them).
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveStatic } from "../examples/app-backend/src/static-files.js";
import { launchChromium } from "./browser/support/chromium.js";
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
  let outDir: string;
  let server: Server;
  let url: string;
  let browser: Browser;
  let relay: RelayHandle;

  beforeAll(async () => {
    relay = await startRelay();
    outDir = await mkdtemp(join(tmpdir(), "parley-client-fixture-"));
    await build({ root: FIXTURE_DIR, configFile: false, logLevel: "warn", build: { outDir, emptyOutDir: true } });
    server = createServer((req, res) => void serveStatic(outDir, new URL(req.url ?? "/", "http://x").pathname, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    if (outDir) await rm(outDir, { recursive: true, force: true });
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
