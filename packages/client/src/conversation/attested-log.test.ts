import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { memoryStorage } from "../storage/memory-storage.js";
import { AttestedLog, attestedKey } from "./attested-log.js";

/** An update of one struct by Yjs client `client`, at clock `clock`. */
function updateOf(client: number, clocks: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = client;
  for (let i = 0; i < clocks; i++) doc.getArray("messages").push([i]);
  return Y.encodeStateAsUpdate(doc);
}

const tag = new Uint8Array(16).fill(9);

describe("AttestedLog", () => {
  it("keeps attested updates until a stored state covers them, and names those a relay lacks", async () => {
    const storage = memoryStorage();
    const log = await AttestedLog.open(storage, "app/u/x");
    const first = updateOf(1, 1);
    const second = updateOf(2, 2);
    log.add({ update: first, tag });
    log.add({ update: second, tag });
    expect(log.missingFrom(new Map([[1, 1]])).map((entry) => entry.update)).toEqual([second]);
    expect(log.missingFrom(new Map()).map((entry) => entry.update)).toEqual([first, second]);
    log.prune(new Map([[2, 1]])); // covers neither whole
    expect(log.size).toBe(2);
    log.prune(new Map([[1, 1]]));
    expect(log.size).toBe(1);
    await log.settled();
    const reopened = await AttestedLog.open(storage, "app/u/x");
    expect(reopened.missingFrom(new Map())).toEqual([{ update: second, tag }]);
    log.prune(new Map([[2, 2]]));
    await log.settled();
    expect(await storage.get(attestedKey("app/u/x"))).toBeUndefined();
  });

  it("reads a damaged record as the entries it can decode", async () => {
    const storage = memoryStorage();
    await storage.set(attestedKey("app/u/y"), [["%%%", "AA=="], 7, [btoa("\u0000"), btoa("\u0001")]]);
    const log = await AttestedLog.open(storage, "app/u/y");
    expect(log.size).toBe(1);
  });

  it("keeps another instance's entries on the same store when it saves its own", async () => {
    const storage = memoryStorage();
    const tabA = await AttestedLog.open(storage, "app/u/z");
    const tabB = await AttestedLog.open(storage, "app/u/z");
    const fromA = { update: updateOf(1, 1), tag: new Uint8Array(16).fill(1) };
    const fromB = { update: updateOf(2, 1), tag: new Uint8Array(16).fill(2) };
    tabA.add(fromA);
    await tabA.settled();
    tabB.add(fromB);
    await tabB.settled();
    const reopened = await AttestedLog.open(storage, "app/u/z");
    expect(reopened.missingFrom(new Map())).toEqual([fromB, fromA]);
    // What is stored is dropped from the other's entries too.
    tabB.prune(new Map([[1, 1]]));
    tabB.add({ update: updateOf(3, 1), tag: new Uint8Array(16).fill(3) });
    await tabB.settled();
    expect((await AttestedLog.open(storage, "app/u/z")).size).toBe(2);
  });
});
