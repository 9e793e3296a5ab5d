/**
 * The conformance suite of the {@link RevocationStore} capability (the contract in revocation-store.ts), run like
 * the storage suite (conformance.ts) on a medium whose `open()` returns storages that offer revocations: two
 * `open()`s are two relay nodes. Exported from `@parley/relay/testing`.
 */
import assert from "node:assert/strict";
import { ErrorCode, roomName } from "@parley/protocol";
import type { NewRelayStorageMedium, RelayStorageMedium, TestFunctions } from "./conformance.js";
import { type RevocationStore, revocationStoreOf } from "./revocation-store.js";

/** One promise of the revocation contract. */
export interface RevocationStoreCase {
  readonly name: string;
  run(medium: RelayStorageMedium): Promise<void>;
}

let counter = 0;

/** A fresh anonymous room name (22-character id). */
function anonymousRoom(): string {
  counter += 1;
  const subject = `conformance${String(counter).padStart(6, "0")}${Math.random().toString(36).slice(2, 7)}`;
  return roomName({ appId: "conformance", kind: "anonymous", subject: subject.padEnd(22, "x").slice(0, 22) });
}

async function node(medium: RelayStorageMedium): Promise<RevocationStore> {
  const store = revocationStoreOf(await medium.open());
  assert.ok(store, "the storage must offer revocations");
  return store;
}

const invalidArgument = (error: { code?: unknown }) => error.code === ErrorCode.InvalidArgument;

/** The cases, one per promise of the contract. */
export const revocationStoreCases: readonly RevocationStoreCase[] = [
  {
    name: "knows no revocation of a room never claimed; a claim is seen by every node",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const [loggedOut, merged] = [anonymousRoom(), anonymousRoom()];
      assert.equal(await b.lookup(loggedOut), undefined);
      assert.deepEqual(await a.claim(loggedOut), {});
      assert.deepEqual(await a.claim(merged, "ada@example.com"), { mergedInto: "ada@example.com" });
      assert.deepEqual(await b.lookup(loggedOut), {});
      assert.deepEqual(await b.lookup(merged), { mergedInto: "ada@example.com" });
    },
  },
  {
    name: "keeps the first claim: a merge into another user gets the earlier merge back, the same user its own",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const room = anonymousRoom();
      assert.deepEqual(await a.claim(room, "ada"), { mergedInto: "ada" });
      assert.deepEqual(await b.claim(room, "bob"), { mergedInto: "ada" }, "a merge into another user refuses");
      assert.deepEqual(await b.claim(room, "ada"), { mergedInto: "ada" }, "a retried merge proceeds");
      assert.deepEqual(await a.claim(room), { mergedInto: "ada" }, "a logout after a merge keeps mergedInto");
      assert.deepEqual(await a.lookup(room), { mergedInto: "ada" });
    },
  },
  {
    name: "keeps a logout that came first: a later merge gets a record without mergedInto",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const room = anonymousRoom();
      assert.deepEqual(await a.claim(room), {});
      assert.deepEqual(await b.claim(room, "ada"), {});
      assert.deepEqual(await b.lookup(room), {});
    },
  },
  {
    name: "gives two nodes claiming one room at once into two users the same record, one of theirs",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const rooms = Array.from({ length: 20 }, () => anonymousRoom());
      const results = await Promise.all(
        rooms.map((room) => Promise.all([a.claim(room, "ada"), b.claim(room, "bob"), b.claim(room, "cy")])),
      );
      for (const [index, records] of results.entries()) {
        const winner = records[0].mergedInto;
        assert.ok(winner === "ada" || winner === "bob" || winner === "cy", `a claimant won room ${index}`);
        for (const record of records) assert.deepEqual(record, { mergedInto: winner }, "every claimant sees it");
        assert.deepEqual(await a.lookup(rooms[index]!), { mergedInto: winner });
      }
    },
  },
  {
    name: "erases the userId of a merge, and revokes a room never claimed; a later merge gets a logout's record",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const [merged, unclaimed] = [anonymousRoom(), anonymousRoom()];
      await a.claim(merged, "ada");
      await a.erase(merged);
      await b.erase(unclaimed);
      for (const room of [merged, unclaimed]) {
        assert.deepEqual(await b.lookup(room), {});
        assert.deepEqual(await b.claim(room, "ada"), {}, "a merge, even into the erased user, is refused");
      }
    },
  },
  {
    name: "refuses a room that is not anonymous or a malformed userId, and stores nothing for it",
    async run(medium) {
      const store = await node(medium);
      const room = anonymousRoom();
      await assert.rejects(store.claim("conformance/u/YWRh", "ada"), invalidArgument);
      await assert.rejects(store.claim("not a room"), invalidArgument);
      await assert.rejects(store.claim(room, ""), invalidArgument);
      await assert.rejects(store.claim(room, "a\u0000b"), invalidArgument);
      await assert.rejects(store.claim(room, 42 as unknown as string), invalidArgument);
      await assert.rejects(store.lookup("conformance/u/YWRh"), invalidArgument);
      await assert.rejects(store.erase("conformance/u/YWRh"), invalidArgument);
      assert.equal(await store.lookup(room), undefined);
    },
  },
];

/** Registers the revocation suite as one `describe` block with one `it` per case, each on a fresh medium. */
export function describeRevocationStore(
  test: TestFunctions,
  adapterName: string,
  newMedium: NewRelayStorageMedium,
): void {
  test.describe(`${adapterName} keeps the RevocationStore contract`, () => {
    for (const revocationCase of revocationStoreCases) {
      test.it(revocationCase.name, async () => {
        const medium = await newMedium();
        try {
          await revocationCase.run(medium);
        } finally {
          await medium.dispose?.();
        }
      });
    }
  });
}
