import {
  clientsOf,
  listMessages,
  messagesOf,
  metaOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  readsOf,
  type UserMessageRecord,
} from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate, type Verdict } from "./authorship.js";

const NOW = 1_700_000_000_000;
const ALICE = "aliceClientId000000000";
const BOB = "bobClientId00000000000";
const RELAY_YJS = 1;

function message(client: string, text: string, extra: Record<string, unknown> = {}): UserMessageRecord {
  return {
    id: `m-${text.replace(/\W/g, "")}-0000`,
    role: "user",
    client,
    text,
    ts: NOW,
    ...extra,
  } as UserMessageRecord;
}

/** A relay-side document with a business message, a client record and Bob's message. */
function relayDoc(): { doc: Y.Doc; bob: Y.Doc } {
  const doc = new Y.Doc();
  doc.clientID = RELAY_YJS;
  doc.transact(() => {
    ownersOf(doc).set(String(RELAY_YJS), RELAY_OWNER);
    messagesOf(doc).push([{ id: "business-1", role: "business", author: { name: "Support" }, text: "Hi", ts: NOW }]);
    clientsOf(doc).set(BOB, { id: BOB, platform: "web", firstSeen: NOW, lastSeen: NOW, active: true });
  });
  const bob = clientDoc(doc, 20);
  messagesOf(bob).push([message(BOB, "from bob")]);
  readsOf(bob).set(BOB, { ts: NOW });
  expectAccepted(doc, Y.encodeStateAsUpdate(bob, Y.encodeStateVector(doc)), BOB);
  return { doc, bob };
}

/** A user client's document with the given Yjs clientID, synced from the relay. */
function clientDoc(relay: Y.Doc, yjsClientId: number): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(relay));
  // Set after syncing: Yjs picks a fresh clientID when a remote update uses the local one.
  doc.clientID = yjsClientId;
  return doc;
}

/** What the relay would do: check, record new owners, apply. */
function accept(relay: Y.Doc, update: Uint8Array, clientId: string): Verdict {
  const verdict = checkUpdate(relay, update, { clientId }, NOW);
  if (verdict.ok) {
    relay.transact(() => {
      for (const id of verdict.newOwners) ownersOf(relay).set(String(id), clientId);
    });
    Y.applyUpdate(relay, update);
    expect(relay.store.pendingStructs).toBeNull();
  }
  return verdict;
}

function expectAccepted(relay: Y.Doc, update: Uint8Array, clientId: string): number[] {
  const verdict = accept(relay, update, clientId);
  if (!verdict.ok) throw new Error(`refused: ${verdict.code} ${verdict.reason}`);
  return verdict.newOwners;
}

function expectRefused(relay: Y.Doc, update: Uint8Array, clientId: string, code: string, reason?: RegExp): void {
  const before = Y.encodeStateAsUpdate(relay);
  const verdict = checkUpdate(relay, update, { clientId }, NOW);
  expect(verdict.ok).toBe(false);
  if (!verdict.ok) {
    expect(verdict.code, verdict.reason).toBe(code);
    if (reason) expect(verdict.reason).toMatch(reason);
  }
  expect(Y.encodeStateAsUpdate(relay)).toEqual(before);
}

/** The update a change on `doc` produces. */
function changeOf(doc: Y.Doc, change: () => void): Uint8Array {
  const updates: Uint8Array[] = [];
  const listener = (update: Uint8Array) => updates.push(update);
  doc.on("update", listener);
  doc.transact(change);
  doc.off("update", listener);
  return Y.mergeUpdates(updates);
}

/** One struct of a hand-made update: an item (values, or a deleted placeholder) or a GC run. */
interface CraftedStruct {
  origin?: [number, number];
  right?: [number, number];
  parent?: string | [number, number];
  key?: string;
  values?: unknown[];
  deleted?: number;
  gc?: number;
}

/** Encodes structs the way Yjs v1 does, to build updates no honest Yjs document would produce. */
function craft(blocks: Array<[client: number, clock: number, structs: CraftedStruct[]]>): Uint8Array {
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, blocks.length);
  for (const [client, clock, structs] of blocks) {
    encoding.writeVarUint(encoder.restEncoder, structs.length);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, clock);
    for (const struct of structs) {
      if (struct.gc !== undefined) {
        encoder.writeInfo(0);
        encoder.writeLen(struct.gc);
        continue;
      }
      const content =
        struct.deleted !== undefined ? new Y.ContentDeleted(struct.deleted) : new Y.ContentAny(struct.values ?? []);
      encoder.writeInfo(
        content.getRef() | (struct.origin ? 0x80 : 0) | (struct.right ? 0x40 : 0) | (struct.key ? 0x20 : 0),
      );
      if (struct.origin) encoder.writeLeftID(Y.createID(...struct.origin));
      if (struct.right) encoder.writeRightID(Y.createID(...struct.right));
      if (!struct.origin && !struct.right) {
        encoder.writeParentInfo(typeof struct.parent === "string");
        if (typeof struct.parent === "string") encoder.writeString(struct.parent);
        else encoder.writeLeftID(Y.createID(...(struct.parent ?? [0, 0])));
        if (struct.key) encoder.writeString(struct.key);
      }
      content.write(encoder, 0);
    }
  }
  encoding.writeVarUint(encoder.restEncoder, 0); // no deletes
  return encoder.toUint8Array();
}

/** The Yjs id of the item holding `key` in `reads`, and of the first message. */
function ids(doc: Y.Doc): { read: [number, number]; message: [number, number] } {
  const read = readsOf(doc)._map.get(BOB);
  const message = messagesOf(doc)._start;
  if (!read || !message) throw new Error("fixture lacks a read mark or a message");
  return { read: [read.id.client, read.id.clock], message: [message.id.client, message.id.clock] };
}

describe("checkUpdate: honest updates pass", () => {
  it("accepts a new message and binds the new Yjs clientID to the sender", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const update = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "hello")]));
    expect(expectAccepted(doc, update, ALICE)).toEqual([30]);
    expect(ownersOf(doc).get("30")).toBe(ALICE);
    expect(listMessages(doc).map((m) => m.text)).toEqual(["Hi", "from bob", "hello"]);
  });

  it("accepts a profile entry and a message with metadata", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const update = changeOf(alice, () => {
      profileLogOf(alice).push([{ key: "givenName", value: "Alice", ts: NOW, client: ALICE }]);
      profileLogOf(alice).push([{ key: "properties.plan", value: { tier: 2 }, ts: NOW, client: ALICE }]);
      messagesOf(alice).push([message(ALICE, "meta", { meta: { orderId: 7 } })]);
    });
    expectAccepted(doc, update, ALICE);
  });

  it("accepts a read mark overwritten from a second Yjs clientID of the same client", () => {
    const { doc } = relayDoc();
    const first = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(first, () => readsOf(first).set(ALICE, { ts: NOW - 10 })),
      ALICE,
    );
    const second = clientDoc(doc, 31);
    const update = changeOf(second, () => readsOf(second).set(ALICE, { ts: NOW }));
    expect(expectAccepted(doc, update, ALICE)).toEqual([31]);
    expect(readsOf(doc).get(ALICE)).toEqual({ ts: NOW });
  });

  it("accepts structs it already has, including the full state of the client (sync step 2)", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).push([message(ALICE, "once")])),
      ALICE,
    );
    // The relay overwrites a record (deleting its own item); Alice learns of it and re-sends everything.
    clientsOf(doc).set(BOB, { id: BOB, platform: "web", firstSeen: NOW, lastSeen: NOW + 1, active: true });
    Y.applyUpdate(alice, Y.encodeStateAsUpdate(doc));
    expect(expectAccepted(doc, Y.encodeStateAsUpdate(alice), ALICE)).toEqual([]);
    expect(listMessages(doc)).toHaveLength(3);
  });

  it("accepts the step 2 of a client that merged an anonymous document the relay already merged", () => {
    const { doc } = relayDoc();
    // The anonymous conversation, with its own relay writes and a client record the relay overwrote.
    const anonymous = new Y.Doc();
    anonymous.clientID = 2;
    anonymous.transact(() => {
      ownersOf(anonymous).set("2", RELAY_OWNER);
      clientsOf(anonymous).set(ALICE, { id: ALICE, platform: "ios", firstSeen: NOW, lastSeen: NOW, active: true });
      messagesOf(anonymous).push([{ id: "business-a", role: "business", author: {}, text: "Welcome", ts: NOW }]);
    });
    const anonClient = clientDoc(anonymous, 40);
    Y.applyUpdate(
      anonClient,
      changeOf(anonClient, () => messagesOf(anonClient).push([message(ALICE, "anon")])),
    );
    ownersOf(anonymous).set("40", ALICE);
    Y.applyUpdate(anonymous, Y.encodeStateAsUpdate(anonClient));
    clientsOf(anonymous).set(ALICE, { id: ALICE, platform: "ios", firstSeen: NOW, lastSeen: NOW + 5, active: true });
    // The relay merges the anonymous document (the login merge); the client merged it locally too.
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(anonymous));
    const alice = clientDoc(doc, 41);
    Y.applyUpdate(anonClient, Y.encodeStateAsUpdate(anonymous));
    Y.applyUpdate(alice, Y.encodeStateAsUpdate(anonClient));
    expect(expectAccepted(doc, Y.encodeStateAsUpdate(alice, Y.encodeStateVector(doc)), ALICE)).toEqual([]);
    expect(expectAccepted(doc, Y.encodeStateAsUpdate(alice), ALICE)).toEqual([]);
    expect(listMessages(doc).map((m) => m.text)).toContain("anon");
  });

  it("accepts an item that straddles what the relay has (merged in the client's store)", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).push([message(ALICE, "one")])),
      ALICE,
    );
    messagesOf(alice).push([message(ALICE, "two")]);
    const full = Y.encodeStateAsUpdate(alice);
    const struct = Y.decodeUpdate(full).structs.find((s) => s.id.client === 30);
    expect(struct?.length).toBe(2);
    expectAccepted(doc, full, ALICE);
    expect(listMessages(doc).map((m) => m.text)).toEqual(["Hi", "from bob", "one", "two"]);
  });

  it("lets a client delete its own message", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).push([message(ALICE, "oops")])),
      ALICE,
    );
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).delete(2, 1)),
      ALICE,
    );
    expect(listMessages(doc)).toHaveLength(2);
  });
});

describe("checkUpdate: attacks are refused", () => {
  const attacks: Array<[string, (alice: Y.Doc) => void]> = [
    [
      "a business message",
      (d) => messagesOf(d).push([{ id: "forged-00", role: "business", author: {}, text: "x", ts: NOW }]),
    ],
    ["a message claiming another client", (d) => messagesOf(d).push([message(BOB, "not me")])],
    [
      "a profile entry claiming another client",
      (d) => profileLogOf(d).push([{ key: "email", value: "x", ts: NOW, client: BOB }]),
    ],
    [
      "a message reusing the business message's id",
      (d) => messagesOf(d).unshift([message(ALICE, "business-1", { id: "business-1" })]),
    ],
    [
      "a message reusing another client's message id",
      (d) => messagesOf(d).push([message(ALICE, "x", { id: message(BOB, "from bob").id })]),
    ],
    ["a message with extra fields", (d) => messagesOf(d).push([message(ALICE, "extra", { admin: true })])],
    ["a message dated too far ahead", (d) => messagesOf(d).push([message(ALICE, "future", { ts: NOW + 3_600_000 })])],
    [
      "an unknown profile key",
      (d) => profileLogOf(d).push([{ key: "isAdmin" as "email", value: "1", ts: NOW, client: ALICE }]),
    ],
    ["deleting another client's message", (d) => messagesOf(d).delete(1, 1)],
    ["deleting the business's message", (d) => messagesOf(d).delete(0, 1)],
    ["overwriting another client's read mark", (d) => readsOf(d).set(BOB, { ts: NOW })],
    ["a read mark with extra fields", (d) => readsOf(d).set(ALICE, { ts: NOW, x: 1 } as { ts: number })],
    ["writing the business's read mark", (d) => readsOf(d).set("@business", { ts: NOW })],
    [
      "writing a client record",
      (d) => clientsOf(d).set(ALICE, { id: ALICE, platform: "x", firstSeen: 0, lastSeen: 0, active: true }),
    ],
    ["writing owners", (d) => ownersOf(d).set("99", ALICE)],
    ["writing meta", (d) => metaOf(d).set("subject", "x")],
    ["an unknown root array", (d) => d.getArray("evil").push([1])],
    ["an unknown root map", (d) => d.getMap("evil").set("k", 1)],
    ["an unknown root text", (d) => d.getText("evil").insert(0, "x")],
    ["a nested Y.Map in messages", (d) => messagesOf(d).push([new Y.Map() as unknown as UserMessageRecord])],
    ["a nested Y.Text in reads", (d) => readsOf(d).set(ALICE, new Y.Text("x") as unknown as { ts: number })],
  ];

  for (const [name, attack] of attacks) {
    it(`refuses ${name}`, () => {
      const { doc } = relayDoc();
      const alice = clientDoc(doc, 30);
      const update = changeOf(alice, () => attack(alice));
      expect(update.length).toBeGreaterThan(2);
      expectRefused(doc, update, ALICE, "authorship");
    });
  }

  it("refuses a struct under a Yjs clientID owned by another client", () => {
    const { doc } = relayDoc();
    const mallory = clientDoc(doc, 20); // Bob's clientID
    const update = changeOf(mallory, () => messagesOf(mallory).push([message(ALICE, "as bob's id")]));
    expectRefused(doc, update, ALICE, "authorship");
  });

  it("refuses a struct under the relay's Yjs clientID", () => {
    const { doc } = relayDoc();
    const mallory = clientDoc(doc, RELAY_YJS);
    const update = changeOf(mallory, () => messagesOf(mallory).push([message(ALICE, "as the relay")]));
    expectRefused(doc, update, ALICE, "authorship");
  });

  it("refuses a keyed entry in the messages array", () => {
    const { doc } = relayDoc();
    const mallory = new Y.Doc();
    mallory.clientID = 30;
    const update = changeOf(mallory, () => mallory.getMap("messages").set("k", message(ALICE, "keyed")));
    expectRefused(doc, update, ALICE, "authorship");
  });

  it("refuses a message pushed with a Y.Map inside it", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const nested = new Y.Map<unknown>();
    const update = changeOf(alice, () => {
      messagesOf(alice).push([nested as unknown as UserMessageRecord]);
      nested.set("text", "hi");
    });
    expectRefused(doc, update, ALICE, "authorship");
  });

  it("asks for a resync when a dependency is missing", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    changeOf(alice, () => messagesOf(alice).push([message(ALICE, "first")]));
    const second = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "second")]));
    expectRefused(doc, second, ALICE, "resync");
  });

  it("asks for a resync when a struct the relay already has names an origin it lacks", () => {
    // Yjs resolves origins even of structs it then skips, and would park this update.
    const { doc } = relayDoc();
    const other = new Y.Doc();
    other.clientID = 13;
    messagesOf(other).push([message(ALICE, "elsewhere")]);
    const forged = new Y.Doc();
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(other));
    forged.clientID = 20; // Bob's: the relay has clock 0 of it already
    messagesOf(forged).push([message(BOB, "known clock")]);
    const update = Y.encodeStateAsUpdate(forged, Y.encodeStateVector(other));
    expectRefused(doc, update, ALICE, "resync");
  });

  it("refuses an unknown root named by a struct the relay already has", () => {
    // Yjs creates every root an update names, even for structs it skips.
    const { doc } = relayDoc();
    const forged = new Y.Doc();
    forged.clientID = 20;
    forged.getArray("junk").push([1]);
    expectRefused(doc, Y.encodeStateAsUpdate(forged), ALICE, "authorship");
    expect([...doc.share.keys()]).not.toContain("junk");
  });

  it("refuses an update that names one Yjs clientID in two blocks", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const first = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "first")]));
    const second = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "second")]));
    // A one-block update without deletes is [1, block..., 0]; Yjs would keep only the second block.
    const twoBlocks = new Uint8Array([2, ...first.subarray(1, -1), ...second.subarray(1, -1), 0]);
    expect(Y.decodeUpdate(twoBlocks).structs).toHaveLength(2);
    expectRefused(doc, twoBlocks, ALICE, "bad-frame");
  });

  it("refuses empty and out-of-range deletes, which make Yjs throw half-way, even on the sender's clientIDs", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).push([message(ALICE, "owned")])),
      ALICE,
    );
    // No structs; a delete set for clientID 30 (0x1e) with one range.
    const empty = new Uint8Array([0, 1, 0x1e, 1, 100, 0]);
    const huge = new Uint8Array([0, 1, 0x1e, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x4e, 1]);
    expect(Y.decodeUpdate(huge).ds.clients.get(30)?.[0]?.clock).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    expectRefused(doc, empty, ALICE, "bad-frame");
    expectRefused(doc, huge, ALICE, "bad-frame");
  });

  it("refuses trailing bytes after a valid update", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const update = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "tail")]));
    expectRefused(doc, new Uint8Array([...update, 7, 7, 7]), ALICE, "bad-frame");
  });

  it("refuses garbage and truncated updates as bad frames", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    const update = changeOf(alice, () => messagesOf(alice).push([message(ALICE, "truncate me")]));
    expectRefused(doc, update.subarray(0, update.length - 3), ALICE, "bad-frame");
    expectRefused(
      doc,
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      ALICE,
      "bad-frame",
    );
  });
});

describe("checkUpdate: hand-made updates", () => {
  it("accepts a GC run under a new clientID, refuses one under another client's", () => {
    const { doc } = relayDoc();
    expect(expectAccepted(doc, craft([[31, 0, [{ gc: 3 }]]]), ALICE)).toEqual([31]);
    expectRefused(doc, craft([[20, Y.getState(doc.store, 20), [{ gc: 1 }]]]), ALICE, "authorship", /another client/);
  });

  it("refuses an item that straddles the stored state into another parent", () => {
    const { doc } = relayDoc();
    const alice = clientDoc(doc, 30);
    expectAccepted(
      doc,
      changeOf(alice, () => messagesOf(alice).push([message(ALICE, "stored")])),
      ALICE,
    );
    // Clock 0 is a stored message; the new clock 1 would attach after it but claims the reads map.
    const update = craft([[30, 0, [{ parent: "reads", key: ALICE, values: [{ ts: NOW }, { ts: NOW }] }]]]);
    expectRefused(doc, update, ALICE, "authorship", /straddles/);
  });

  it("refuses an item whose left and right origins sit in different parents", () => {
    const { doc } = relayDoc();
    const { message: left, read: right } = ids(doc);
    const update = craft([[31, 0, [{ origin: left, right, values: [message(ALICE, "between")] }]]]);
    expectRefused(doc, update, ALICE, "authorship", /different parents/);
  });

  it("refuses an origin at or after its own item as a bad frame", () => {
    const { doc } = relayDoc();
    const update = craft([[31, 0, [{ origin: [31, 5], values: [message(ALICE, "ahead")] }]]]);
    expectRefused(doc, update, ALICE, "bad-frame", /origin at or after/);
  });

  it("refuses a dependency cycle, which Yjs would park in pendingStructs", () => {
    const { doc } = relayDoc();
    const update = craft([
      [
        31,
        0,
        [
          { parent: "messages", values: [message(ALICE, "a0")] },
          { origin: [32, 0], values: [message(ALICE, "a1")] },
        ],
      ],
      [32, 0, [{ origin: [31, 1], values: [message(ALICE, "b0")] }]],
    ]);
    expectRefused(doc, update, ALICE, "bad-frame", /cycle/);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
    Y.applyUpdate(copy, update);
    expect(copy.store.pendingStructs).not.toBeNull();
  });

  it("refuses deleted placeholders outside the writable roots, and nested parents", () => {
    const { doc } = relayDoc();
    const deletedInClients = craft([[31, 0, [{ parent: "clients", key: ALICE, deleted: 1 }]]]);
    expectRefused(doc, deletedInClients, ALICE, "authorship", /not writable/);
    expectRefused(doc, craft([[31, 0, [{ parent: [RELAY_YJS, 0], values: [1] }]]]), ALICE, "authorship", /nested/);
    expect(expectAccepted(doc, craft([[31, 0, [{ parent: "messages", deleted: 2 }]]]), ALICE)).toEqual([31]);
  });
});
