import { FencedError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/storage.js";
import { claimOnFirstWrite, UNCLAIMED } from "./claim-on-first-write.js";

const NAME = "app/a/someone";
const bytes = (n: number) => new Uint8Array([n]);

describe("claimOnFirstWrite", () => {
  it("claims nothing until the first write, then claims once and writes in the order made", async () => {
    const storage = new MemoryStorage();
    const deferred = claimOnFirstWrite(storage, NAME);
    expect(await deferred.load(NAME)).toEqual([]);
    const writes = [1, 2, 3].map((n) => deferred.append(NAME, bytes(n), UNCLAIMED));
    await Promise.all(writes);
    expect(await storage.load(NAME)).toEqual([bytes(1), bytes(2), bytes(3)]);
    // One claim was made (fence 1): the next claimer gets fence 2, and fences the deferred writer out.
    expect(await storage.claim(NAME)).toBe(2);
    await expect(deferred.append(NAME, bytes(4), UNCLAIMED)).rejects.toBeInstanceOf(FencedError);
  });

  it("refuses its first write, storing nothing, when another writer stored the document since it was loaded", async () => {
    const storage = new MemoryStorage();
    const deferred = claimOnFirstWrite(storage, NAME);
    const other = await storage.claim(NAME);
    await storage.append(NAME, bytes(9), other);
    await expect(deferred.append(NAME, bytes(1), UNCLAIMED)).rejects.toBeInstanceOf(FencedError);
    await expect(deferred.compact(NAME, bytes(2), UNCLAIMED)).rejects.toBeInstanceOf(FencedError);
    expect(await storage.load(NAME)).toEqual([bytes(9)]);
  });
});
