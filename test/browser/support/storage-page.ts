/**
 * The storage fixture page (fixtures/storage/): built with Vite once per test file, served on a port-0
 * HTTP server. It hands tests the IndexedDB adapter, Yjs and the ClientStorage conformance suite.
 */
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { serveFixturePage } from "../../support/fixture-page.js";

const FIXTURE_DIR = fileURLToPath(new URL("../fixtures/storage/", import.meta.url));

/** A served build of the fixture. */
export interface StorageFixture {
  url: string;
  close(): Promise<void>;
}

/** Builds and serves the fixture page. */
export function serveStorageFixture(): Promise<StorageFixture> {
  return serveFixturePage(FIXTURE_DIR);
}

/** Opens the fixture in a new page of `context` and waits until its exports are set. */
export async function openStoragePage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.title === "ready");
  return page;
}
