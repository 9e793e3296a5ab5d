/**
 * The ClientStorage conformance suite (`@parley/client/testing`) against the adapters that run in Node:
 * memory and directory. IndexedDB runs it in real Chromium (browser/indexeddb-storage-conformance.test.ts).
 * Imported through the packages' public entries, as an adapter author would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { describeClientStorage } from "@parley/client/testing";
import { describe, it } from "vitest";

describeClientStorage({ describe, it }, "memoryStorage", () => {
  const storage = memoryStorage();
  return { open: () => storage };
});

describeClientStorage({ describe, it }, "directoryStorage", async () => {
  const dir = await mkdtemp(join(tmpdir(), "parley-conformance-"));
  return { open: () => directoryStorage(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
});
