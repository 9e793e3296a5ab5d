/**
 * The ClientStorage conformance suite (`@parley/client/testing`) against the IndexedDB adapter in real
 * Chromium: each case runs inside a fresh page on databases of its own prefix, with several adapter
 * instances of one prefix standing in for tabs (they hold separate IndexedDB connections, as tabs do).
 */
import { clientStorageCaseNames } from "@parley/client/testing";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { launchChromium } from "./support/chromium.js";
import { openStoragePage, type StorageFixture, serveStorageFixture } from "./support/storage-page.js";

let fixture: StorageFixture;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  fixture = await serveStorageFixture();
  browser = await launchChromium();
  context = await browser.newContext();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await fixture?.close();
});

describe("indexedDbStorage keeps the ClientStorage contract (Chromium)", () => {
  for (const [index, name] of clientStorageCaseNames.entries()) {
    it(name, async () => {
      const page = await openStoragePage(context, fixture.url);
      try {
        // A failed case throws out of evaluate with the case's message.
        await page.evaluate(([name, prefix]) => window.parleyFixture.runConformanceCase(name, prefix), [
          name,
          `conformance-${index}/`,
        ] as const);
      } finally {
        await page.close();
      }
    });
  }
});
