/**
 * The storage fixture page (fixtures/storage/): built with Vite once per test file, served on a port-0
 * HTTP server. It hands tests the IndexedDB adapter, Yjs and the ClientStorage conformance suite.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { serveStatic } from "../../../examples/app-backend/src/static-files.js";

const FIXTURE_DIR = fileURLToPath(new URL("../fixtures/storage/", import.meta.url));

/** A served build of the fixture. */
export interface StorageFixture {
  url: string;
  close(): Promise<void>;
}

/** Builds and serves the fixture page. */
export async function serveStorageFixture(): Promise<StorageFixture> {
  const outDir = await mkdtemp(join(tmpdir(), "parley-storage-fixture-"));
  await build({ root: FIXTURE_DIR, configFile: false, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  const server = createServer(
    (req, res) => void serveStatic(outDir, new URL(req.url ?? "/", "http://x").pathname, res),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/** Opens the fixture in a new page of `context` and waits until its exports are set. */
export async function openStoragePage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.title === "ready");
  return page;
}
