import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { memoryStorage } from "./memory-storage.js";

// The contract itself is checked by the conformance suite (test/client-storage-conformance.test.ts).
describe("memoryStorage", () => {
  it("is its own medium: two instances share nothing", async () => {
    const first = memoryStorage();
    await first.set("k", 1);
    const doc = new Y.Doc();
    await (await first.openDoc("d", doc)).close();
    const second = memoryStorage();
    expect(await second.get("k")).toBeUndefined();
    expect(await second.listDocs()).toEqual([]);
  });
});
