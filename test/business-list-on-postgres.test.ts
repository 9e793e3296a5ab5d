/**
 * The business API's conversation list on PostgreSQL comes from the `conversations` table (the storage's
 * ConversationIndex), written by the relay that serves each room. Two relay processes on one schema: `writer`
 * serves the conversations; `reader` only lists them — with the right order and last messages, and without
 * loading or claiming a single room (no room's epoch moves, its `parley_rooms_loaded` stays 0). The list follows new
 * messages (a client's within the debounce, a business reply before its answer), drops an erased conversation at
 * once, is repaired by a room's next load after its writer crashed behind it, and a document stored without any
 * entry (written before the table existed) is summarized by the first listing.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { roomName } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { api, startBusinessRelay } from "./business-support.js";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./support/postgres.js";
import { type RelayHandle, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const schema = `parley_it_list_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgresAdmin();
const storage = { kind: "postgres", url: PG_URL, schema };
let writer: RelayHandle;
let reader: RelayHandle | undefined;
const clients: ParleyClient[] = [];

beforeAll(async () => {
  await assertPostgresReachable(admin);
  // Not hibernating: a room loaded again claims a new fence, and these tests read fences to see who loaded what.
  writer = await startBusinessRelay({ extraConfig: { storage, roomHibernateMs: 0 } });
}, 60_000);

afterAll(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await reader?.stop();
  await writer?.stop();
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

const roomOf = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

/** Every room's fence: a relay that loads a room claims it, which moves its epoch. */
async function epochs(): Promise<Record<string, number>> {
  const rows = await admin.unsafe<Array<{ name: string; epoch: string }>>(
    `SELECT name, epoch FROM "${schema}".rooms ORDER BY name`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.epoch)]));
}

async function roomsLoaded(relay: RelayHandle): Promise<number> {
  const body = await (await fetch(`${relay.httpUrl}/metrics`)).text();
  const line = body.split("\n").find((candidate) => candidate.startsWith("parley_rooms_loaded "));
  if (line === undefined) throw new Error("no parley_rooms_loaded sample");
  return Number(line.slice("parley_rooms_loaded ".length));
}

/** `[id, last message text]` of each listed conversation, in list order. */
async function listed(relay: RelayHandle, query = "kind=user&limit=200"): Promise<Array<[string, string | undefined]>> {
  const answer = await api(relay, "GET", `users?${query}`);
  expect(answer.status).toBe(200);
  return answer.body.users.map((user: { id: string; lastMessage: { text: string } | null }) => [
    user.id,
    user.lastMessage?.text,
  ]);
}

/** Posts a business message, after the clock moved past the previous one's, so activity orders them. */
let lastPost = 0;
async function post(relay: RelayHandle, userId: string, text: string): Promise<void> {
  while (Date.now() <= lastPost) await new Promise((resolve) => setTimeout(resolve, 1));
  lastPost = Date.now();
  const answer = await api(relay, "POST", `users/${encodeURIComponent(userId)}/messages`, { body: { text } });
  expect(answer.status).toBe(201);
}

describe("the conversation list on PostgreSQL", () => {
  it("is served from the table on a relay that never loaded the rooms, and follows new messages", async () => {
    for (const userId of ["ana", "ben", "cid", "dot"]) {
      expect((await api(writer, "PUT", `users/${userId}`, { body: { profile: { givenName: userId } } })).status).toBe(
        201,
      );
      await post(writer, userId, `hello ${userId}`);
    }
    const client = createClient({ appId: TEST_APP.id, relayUrl: writer.url, storage: memoryStorage(), WebSocket });
    clients.push(client);
    await client.login("eve", await signUserToken("eve"));
    await client.send("eve asks");
    await waitFor(async () => (await listed(writer))[0]?.[0] === "eve", { what: "eve's message is listed" });
    const expected: Array<[string, string]> = [
      ["eve", "eve asks"],
      ["dot", "hello dot"],
      ["cid", "hello cid"],
      ["ben", "hello ben"],
      ["ana", "hello ana"],
    ];
    expect(await listed(writer)).toEqual(expected);

    const before = await epochs();
    reader = await startBusinessRelay({ extraConfig: { storage, roomGraceMs: 60_000 } });
    expect(await listed(reader)).toEqual(expected);
    // Pages of two, through the cursor, without a room opened either.
    const first = await api(reader, "GET", "users?kind=user&limit=2");
    expect(first.body.users.map((user: { id: string }) => user.id)).toEqual(["eve", "dot"]);
    const second = await api(reader, "GET", `users?kind=user&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.users.map((user: { id: string }) => user.id)).toEqual(["cid", "ben"]);
    // The client's anonymous conversation before it logged in, merged into eve's.
    const anonymous = await api(reader, "GET", "users?kind=anonymous");
    expect(anonymous.body.users.map((user: { state: string }) => user.state)).toEqual(["merged"]);
    expect(anonymous.body).toEqual((await api(writer, "GET", "users?kind=anonymous")).body);

    // A business reply is in the table before its answer: listed at once, on the other relay.
    await post(writer, "ana", "ana, we answered");
    expect((await listed(reader))[0]).toEqual(["ana", "ana, we answered"]);
    // A client's message reaches it within the debounce.
    await client.send("eve again");
    await waitFor(async () => (await listed(reader!))[0]?.[1] === "eve again", { what: "eve's new message listed" });
    expect((await listed(reader)).map(([id]) => id)).toEqual(["eve", "ana", "dot", "cid", "ben"]);

    expect(await epochs()).toEqual(before);
    expect(await roomsLoaded(reader)).toBe(0);
  });

  it("drops an erased conversation from the list at once", async () => {
    expect((await api(writer, "DELETE", "users/ben")).status).toBe(204);
    expect((await listed(reader!)).map(([id]) => id)).not.toContain("ben");
    const rows = await admin.unsafe(`SELECT 1 FROM "${schema}".conversations WHERE name = $1`, [roomOf("ben")]);
    expect(rows.length).toBe(0);
    expect(await roomsLoaded(reader!)).toBe(0);
  });

  it("is repaired by the room's next load after its writer crashed with the entry behind the document", async () => {
    // What a SIGKILL between a durable message and its summary write leaves: an entry older than the document.
    await writer.kill();
    await admin.unsafe(
      `UPDATE "${schema}".conversations SET summary = json_build_object('kind', 'user', 'id', 'cid',
         'state', 'active', 'lastActivity', 1, 'messageCount', 0, 'lastMessage', null,
         'reads', json_build_object('user', 0, 'business', 0), 'unread', json_build_object('user', 0, 'business', 0)),
         last_activity = 1 WHERE name = $1`,
      [roomOf("cid")],
    );
    expect((await listed(reader!)).at(-1)).toEqual(["cid", undefined]);
    await writer.restart();
    // Any use of the room loads it on the writer, which writes its entry again.
    expect((await api(writer, "GET", "users/cid")).status).toBe(200);
    await waitFor(async () => (await listed(reader!)).some(([id, text]) => id === "cid" && text === "hello cid"), {
      what: "cid's entry repaired",
    });
    expect((await listed(reader!)).map(([id]) => id)).toEqual(["eve", "ana", "dot", "cid"]);
  });

  it("summarizes documents stored without an entry the first time a relay lists their app", async () => {
    // A document from before the table existed: no row at all.
    await admin.unsafe(`DELETE FROM "${schema}".conversations WHERE name = $1`, [roomOf("dot")]);
    await writer.stop();
    await reader!.restart();
    expect(await listed(reader!)).toEqual([
      ["eve", "eve again"],
      ["ana", "ana, we answered"],
      ["dot", "hello dot"],
      ["cid", "hello cid"],
    ]);
    // That one room was loaded here to summarize it; the table has its entry now.
    expect(await roomsLoaded(reader!)).toBe(1);
    const rows = await admin.unsafe(`SELECT 1 FROM "${schema}".conversations WHERE name = $1`, [roomOf("dot")]);
    expect(rows.length).toBe(1);
    await writer.restart();
  });
});
