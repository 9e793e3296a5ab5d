/**
 * A login merge across three relay processes on one PostgreSQL and one Redis, where a subject may be merged into
 * one user only, whatever node does it and wherever it dies (issue 15, assertion 5):
 * - the same anonymous secret logged in through two nodes at once, the node doing the merge SIGKILLed after it
 *   claimed the subject and before the merge reached the user's room, then retried through the two other
 *   nodes at once: its messages are in the user's room exactly once, and a merge into another user, or the
 *   anonymous secret itself, is refused (4403 `merged`) on every node; erasing the user then keeps the subject
 *   revoked without naming the user;
 * - a logged-out anonymous secret is refused (4403 `revoked`) by a node that never loaded its room, at upgrade:
 *   that node neither loads the room (its lease and fence stay as they were) nor pipes it to the owner.
 *
 * The kill point is made by test/support/stall-user-appends.mjs, preloaded into the nodes: while its flag file
 * exists, appends to user rooms wait.
 *
 * Built to hold on a loaded machine (CI runs the suite in parallel on two cores): every wait is for an outcome,
 * never for a time; the timeouts are safety nets far above what a loaded run takes (about 15 s here with the
 * cluster files beside it and the cores busy).
 */
import { writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import {
  anonymousIdFromSecret,
  CloseCode,
  createSecret,
  encodeClientInfo,
  messagesOf,
  parseAnonymousToken,
  roomName,
} from "@parley/protocol";
import postgres from "postgres";
import { afterAll, expect, it, onTestFinished } from "vitest";
import WebSocket from "ws";
import { api } from "./business-support.js";
import { connectRaw, storedAnonymousToken } from "./support/client.js";
import { type ClusterNode, clusterForThisFile, PG_URL } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const LEASE_MS = 3_000;
/** Safety nets of this file's waits: only a broken relay gets near them, however loaded the machine. */
const WAIT_MS = 60_000;
const clients: ParleyClient[] = [];
const sockets: WebSocket[] = [];
const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });

// Every node of this file preloads the stall; it does nothing until a node's flag file exists.
const previousNodeOptions = process.env.NODE_OPTIONS;
const preload = new URL("./support/stall-user-appends.mjs", import.meta.url).href;
process.env.NODE_OPTIONS = `${previousNodeOptions ?? ""} --import=${preload}`.trim();

const cluster = clusterForThisFile("merge_once", 3, {
  leaseMs: LEASE_MS,
  beforeStop: async () => {
    for (const client of clients) await client.destroy().catch(() => {});
    for (const socket of sockets) socket.terminate();
  },
});

afterAll(async () => {
  if (previousNodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = previousNodeOptions;
  await sql.end();
});

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const anonymousRoomOf = (token: string) =>
  roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(parseAnonymousToken(token)!) });
const stallFlag = (node: ClusterNode) => join(dirname(node.relay.configFile), "stall-user-appends");

/** The schema the nodes store in (their config names it). */
async function schema(): Promise<string> {
  const config = JSON.parse(await readFile(cluster.nodes[0]!.relay.configFile, "utf8")) as {
    storage: { schema: string };
  };
  return config.storage.schema;
}

async function revocation(room: string): Promise<{ merged_into: string | null } | undefined> {
  const [row] = await sql.unsafe<{ merged_into: string | null }[]>(
    `SELECT merged_into FROM "${await schema()}".revocations WHERE room = $1`,
    [room],
  );
  return row;
}

async function roomRow(room: string): Promise<{ epoch: string; owner: string | null; updates: string } | undefined> {
  const s = await schema();
  const [row] = await sql.unsafe<{ epoch: string; owner: string | null; updates: string }[]>(
    `SELECT r.epoch, r.owner, (SELECT count(*) FROM "${s}".updates u WHERE u.room = r.name) AS updates
     FROM "${s}".rooms r WHERE r.name = $1`,
    [room],
  );
  return row;
}

/** An anonymous visitor on `node` who wrote `texts` (all stored); returns its anonymous token. */
async function visitorWrote(node: ClusterNode, texts: string[]): Promise<{ client: ParleyClient; token: string }> {
  const storage = memoryStorage();
  const client = createClient({ appId: TEST_APP.id, relayUrl: node.relay.url, storage, WebSocket });
  clients.push(client);
  await client.ready;
  for (const text of texts) await client.send(text);
  await waitFor(
    () => client.messages().length === texts.length && client.messages().every((m) => m.status === "sent"),
    { what: "the visitor's messages stored", timeoutMs: WAIT_MS },
  );
  return { client, token: await storedAnonymousToken(storage) };
}

/** A close's code and reason token (the reason's first word; a detail for people follows it). */
const closeToken = ({ code, reason }: { code: number; reason: string }) => ({ code, reason: reason.split(" ")[0] });

/** A raw connection to `room` through `node`; `closed` resolves with the close code and reason. */
function open(node: ClusterNode, room: string, params: Record<string, string>) {
  const query = new URLSearchParams({
    client: createSecret(),
    info: encodeClientInfo({ platform: "test-probe" }),
    ...params,
  });
  const socket = new WebSocket(`${node.relay.url}/${room}?${query}`);
  sockets.push(socket);
  socket.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { socket, closed };
}

/**
 * A login merge of `anonymous` with `token` (ada's) through `node`, reconnecting after a pause as a client does
 * while the room moves between nodes (1001 `room-moved`), however often that takes; whether the relay then synced.
 * Not a count of attempts: the dead node's leases run out one by one (the anonymous room's, taken after ada's last
 * renewal, up to a renewal period after hers), and that many quick 1001s is routine, not a failure.
 */
async function loginMerge(node: ClusterNode, token: string, anonymous: string): Promise<boolean> {
  for (;;) {
    const session = await connectRaw(node.relay, userRoom("ada"), token, { merge: anonymous }, WAIT_MS);
    if (session.closeCode !== CloseCode.GoingAway) return session.received;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A connection to `room` through `node` that opens again when the relay closes it with 1001 (`room-moved`: a
 * room it needs is held by another node, which is asked to hand it over), as a client does, until stopped.
 */
function reconnecting(node: ClusterNode, room: string, params: Record<string, string>) {
  let stopped = false;
  let current: WebSocket | undefined;
  const ended = (async () => {
    while (!stopped) {
      const connection = open(node, room, params);
      current = connection.socket;
      if ((await connection.closed).code !== CloseCode.GoingAway) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    /** Stops reconnecting and ends the connection open now. */
    async stop() {
      stopped = true;
      current?.terminate();
      await ended;
    },
  };
}

/** The texts of the user room's message array entries, each as often as it is stored (no de-duplication). */
async function storedTexts(node: ClusterNode, userId: string): Promise<string[]> {
  const session = await connectRaw(node.relay, userRoom(userId), await signUserToken(userId), {}, WAIT_MS);
  if (!session.received) throw new Error(`relay refused ${userId}'s room: ${session.closeCode}`);
  return messagesOf(session.doc)
    .toArray()
    .map((message) => message.text)
    .sort();
}

it("merges a subject into one user exactly once across a kill between the claim and the apply, refusing every other user on every node", async () => {
  const nodes = cluster.nodes;
  // Whatever happens below, the next test finds three running nodes and no stall: a failure here stays here.
  let killed: ClusterNode | undefined;
  let first: ReturnType<typeof reconnecting>[] = [];
  onTestFinished(async () => {
    for (const connection of first) await connection.stop();
    for (const node of nodes) await rm(stallFlag(node), { force: true });
    if (killed !== undefined) await killed.relay.restart();
  });
  const texts = ["first while anonymous", "second while anonymous", "third while anonymous"];
  const { client: visitor, token: anonymous } = await visitorWrote(nodes[2]!, texts);
  await visitor.destroy();
  const anonymousRoom = anonymousRoomOf(anonymous);

  // The same secret logged in as ada through two nodes at once; whichever serves ada's room merges, and stalls.
  for (const node of [nodes[0]!, nodes[1]!]) writeFileSync(stallFlag(node), "");
  const adaToken = await signUserToken("ada");
  first = [nodes[0]!, nodes[1]!].map((node) =>
    reconnecting(node, userRoom("ada"), { token: adaToken, merge: anonymous }),
  );
  await waitFor(async () => (await revocation(anonymousRoom))?.merged_into === "ada", {
    what: "the subject claimed for ada",
    timeoutMs: WAIT_MS,
  });
  const ada = await roomRow(userRoom("ada"));
  expect(Number(ada?.updates), "the merge has not reached ada's room").toBe(0);
  const merging = nodes.find((node) => ada?.owner?.startsWith(`${node.id} `));
  expect(merging === nodes[0] || merging === nodes[1], "a node with the stall serves ada's room").toBe(true);
  // No more attempts (none reached a node that merges, which only ada's room's node does), then the kill.
  for (const connection of first) await connection.stop();
  killed = merging;
  await merging!.relay.kill();
  for (const node of [nodes[0]!, nodes[1]!]) await rm(stallFlag(node), { force: true });

  // Retried through the two other nodes at once: both are admitted once the dead node's leases ran out.
  const survivors = nodes.filter((node) => node !== merging);
  const retries = await Promise.all(survivors.map((node) => loginMerge(node, adaToken, anonymous)));
  expect(retries).toEqual([true, true]);
  for (const node of survivors) expect(await storedTexts(node, "ada")).toEqual([...texts].sort());

  // Every node, the killed one restarted, refuses the subject to another user, and the anonymous secret itself.
  await merging!.relay.restart();
  killed = undefined;
  const bobToken = await signUserToken("bob");
  for (const node of nodes) {
    const merge = open(node, userRoom("bob"), { token: bobToken, merge: anonymous });
    expect(closeToken(await merge.closed)).toEqual({ code: CloseCode.Forbidden, reason: "merged" });
    const again = open(node, anonymousRoom, { token: anonymous });
    expect(closeToken(await again.closed)).toEqual({ code: CloseCode.Forbidden, reason: "merged" });
  }
  expect(await revocation(anonymousRoom)).toEqual({ merged_into: "ada" });
  const bob = await roomRow(userRoom("bob"));
  expect(bob === undefined || Number(bob.updates) === 0, "nothing stored for bob").toBe(true);
  expect(await storedTexts(nodes[0]!, "ada")).toEqual([...texts].sort());

  // Erasing ada leaves the subject revoked, and its row names her no more.
  expect((await api(nodes[2]!.relay, "DELETE", "users/ada")).status).toBe(204);
  expect(await revocation(anonymousRoom)).toEqual({ merged_into: null });
  const afterErasure = open(nodes[1]!, anonymousRoom, { token: anonymous });
  expect(closeToken(await afterErasure.closed)).toEqual({ code: CloseCode.Forbidden, reason: "revoked" });
}, 180_000);

it("refuses a logged-out anonymous secret at upgrade on a node that never loaded its room, without loading it", async () => {
  const [owner, other] = [cluster.nodes[0]!, cluster.nodes[1]!];
  const { client, token } = await visitorWrote(owner, ["before the logout"]);
  const room = anonymousRoomOf(token);
  await client.logout();
  await waitFor(async () => (await revocation(room)) !== undefined, { what: "the logout stored", timeoutMs: WAIT_MS });
  expect(await revocation(room)).toEqual({ merged_into: null });
  const before = await roomRow(room);
  const logsBefore = other.relay.logs.length;

  const probe = open(other, room, { token });
  expect(closeToken(await probe.closed)).toEqual({ code: CloseCode.Forbidden, reason: "revoked" });

  const after = await roomRow(room);
  expect(after?.epoch, "nobody claimed the room again").toBe(before?.epoch);
  expect(after?.owner, "the lease stayed where it was").toBe(before?.owner);
  // The refusal's log line and the close come on different pipes (stdout, the socket): wait for the line. A pipe
  // to the owner would have been logged before it.
  const refused = (line: string) => line.includes('"msg":"connection refused"') && line.includes('"reason":"revoked"');
  await waitFor(() => other.relay.logs.slice(logsBefore).some(refused), { what: "the refusal logged" });
  expect(other.relay.logs.slice(logsBefore).some((line) => line.includes("upgrade piped"))).toBe(false);
}, 120_000);
