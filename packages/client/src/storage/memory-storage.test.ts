import { StorageError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { memoryStorage } from "./memory-storage.js";

describe("memoryStorage", () => {
  it("shares records and documents between the clients given one instance, and copies values", async () => {
    const storage = memoryStorage();
    const value = { list: [1, 2] };
    await storage.set("k", value);
    value.list.push(3);
    expect(await storage.get("k")).toEqual({ list: [1, 2] });
    const doc = new Y.Doc();
    const handle = await storage.openDoc("d", doc);
    doc.getMap("m").set("x", 1);
    await handle.close();
    const other = new Y.Doc();
    await (await storage.openDoc("d", other)).close();
    expect(other.getMap("m").get("x")).toBe(1);
    expect(await memoryStorage().listDocs()).toEqual([]);
  });

  it("erases a document only when no handle is open", async () => {
    const storage = memoryStorage();
    const handle = await storage.openDoc("d", new Y.Doc());
    await expect(storage.deleteDoc("d")).rejects.toBeInstanceOf(StorageError);
    await handle.close();
    await storage.deleteDoc("d");
    expect(await storage.listDocs()).toEqual([]);
  });
});
