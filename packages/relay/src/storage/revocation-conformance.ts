/**
 * The conformance suite of the {@link RevocationStore} capability (the contract in revocation-store.ts), run like
 * the storage suite (conformance.ts) on a medium whose `open()` returns storages that offer revocations: two
 * `open()`s are two relay nodes. Exported from `@parley/relay/testing`.
 */
import assert from "node:assert/strict";
import { ErrorCode, roomName } from "@parley/protocol";
import type { NewRelayStorageMedium, RelayStorageMedium, TestFunctions } from "./conformance.js";
import { CLAIMED_BY_MAX_LIMIT, type RevocationStore, revocationStoreOf } from "./revocation-store.js";

/** One promise of the revocation contract. */
export interface RevocationStoreCase {
  readonly name: string;
  run(medium: RelayStorageMedium): Promise<void>;
}

let counter = 0;

/** A fresh anonymous room name (22-character id) of `appId`. */
function anonymousRoom(appId = "conformance"): string {
  counter += 1;
  const subject = `conformance${String(counter).padStart(6, "0")}${Math.random().toString(36).slice(2, 7)}`;
  return roomName({ appId, kind: "anonymous", subject: subject.padEnd(22, "x").slice(0, 22) });
}

/** A fresh userId, so that cases sharing a medium do not see each other's claims. */
const freshUser = (name: string) => `${name}-${Math.random().toString(36).slice(2, 10)}`;

/** Code-unit order, the order `claimedBy` promises (room names are ASCII). */
const ascending = (rooms: string[]) => [...rooms].sort();

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
    name: "lists the rooms of an app merged into a user: not logouts, other users', other apps', or erased ones",
    async run(medium) {
      const [a, b] = [await node(medium), await node(medium)];
      const [ada, bob] = [freshUser("ada"), freshUser("bob")];
      const mine = [anonymousRoom(), anonymousRoom(), anonymousRoom()];
      const [loggedOut, bobs, otherApp] = [anonymousRoom(), anonymousRoom(), anonymousRoom("conformance-b")];
      const erasedRoom = anonymousRoom();
      for (const room of mine) await a.claim(room, ada);
      await b.claim(loggedOut);
      await b.claim(loggedOut, ada);
      await b.claim(bobs, bob);
      await b.claim(bobs, ada);
      await a.claim(otherApp, ada);
      await a.claim(erasedRoom, ada);
      await b.erase(erasedRoom);
      assert.deepEqual(await b.claimedBy("conformance", ada), ascending(mine), "every node sees them");
      assert.deepEqual(await a.claimedBy("conformance", bob), [bobs]);
      // "conformance-b" extends "conformance": its rooms are not under "conformance/a/" all the same.
      assert.deepEqual(await a.claimedBy("conformance-b", ada), [otherApp], "userIds are per app");
      assert.deepEqual(await a.claimedBy("conformance", freshUser("cy")), []);
      assert.deepEqual(await a.claimedBy("conformance", "a\u0000b"), [], "a userId no claim can name");
    },
  },
  {
    name: "pages the rooms merged into a user in ascending order, each page after the previous one's last room",
    async run(medium) {
      const store = await node(medium);
      const ada = freshUser("ada");
      const rooms = ascending(Array.from({ length: 7 }, () => anonymousRoom()));
      for (const room of rooms) await store.claim(room, ada);
      const pages: string[][] = [];
      for (let after: string | undefined; ; ) {
        const page = await store.claimedBy(
          "conformance",
          ada,
          after === undefined ? { limit: 3 } : { after, limit: 3 },
        );
        pages.push(page);
        if (page.length < 3) break;
        after = page.at(-1);
      }
      assert.deepEqual(pages, [rooms.slice(0, 3), rooms.slice(3, 6), rooms.slice(6)]);
      assert.equal((await store.claimedBy("conformance", ada)).length, 7, "the default page holds a few merges");
      assert.equal((await store.claimedBy("conformance", ada, { limit: CLAIMED_BY_MAX_LIMIT })).length, 7);
      assert.deepEqual(await store.claimedBy("conformance", ada, { after: rooms[6]! }), []);
    },
  },
  {
    name: "refuses a malformed app, userId, page size or cursor of a listing",
    async run(medium) {
      const store = await node(medium);
      const room = anonymousRoom();
      await assert.rejects(store.claimedBy("not an app", "ada"), invalidArgument);
      await assert.rejects(store.claimedBy("conformance", ""), invalidArgument);
      await assert.rejects(store.claimedBy("conformance", 42 as unknown as string), invalidArgument);
      for (const limit of [0, -1, 1.5, CLAIMED_BY_MAX_LIMIT + 1, Number.NaN]) {
        await assert.rejects(store.claimedBy("conformance", "ada", { limit }), invalidArgument, `limit ${limit}`);
      }
      for (const after of ["conformance/u/YWRh", "not a room", anonymousRoom("conformance-b")]) {
        await assert.rejects(store.claimedBy("conformance", "ada", { after }), invalidArgument, `after ${after}`);
      }
      await store.claim(room, "ada");
      assert.deepEqual(
        await store.claimedBy("conformance", "ada", { after: room, limit: 1 }),
        [],
        "after is exclusive",
      );
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
