/**
 * Three relay processes on one PostgreSQL and one Redis (`cluster` in their configs, through the optional
 * @parley/relay-cluster package). Each room is served by the node holding its PostgreSQL lease; clients
 * connect through the wrong node on purpose (directly, or through a round-robin balancer that ignores
 * rooms) and are piped to the owner. Then, mid-traffic, Redis loses its data, Redis becomes unreachable, an
 * owner is paused past its lease, and an owner is SIGKILLed: every message a client saw `sent` is in
 * PostgreSQL and on every client afterwards. Owners SIGKILLed twenty times in a row, with webhooks:
 * relay-cluster-kills.test.ts.
 *
 * Needs PostgreSQL (`PARLEY_TEST_POSTGRES_URL`, default the local `test` database) and Redis
 * (`PARLEY_TEST_REDIS_URL`, default redis://127.0.0.1:6379); each run uses its own schema and key prefix.
 */
import { createHash } from "node:crypto";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import {
  anonymousIdFromSecret,
  listMessages,
  type MessageRecord,
  messagesOf,
  ownersOf,
  parseAnonymousToken,
  roomName,
} from "@parley/protocol";
import { createPostgresStorage } from "@parley/relay-postgres";
import type { Sql } from "postgres";
import type { RedisClientType } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { api } from "./business-support.js";
import { connectRaw, readRelayDoc, storedAnonymousToken } from "./support/client.js";
import {
  type ClusterNode,
  clusterRunNames,
  clusterServices,
  forgetRedisData as forgetKeys,
  PG_URL,
  REDIS_URL,
  removeClusterData,
  startClusterNodes,
} from "./support/cluster.js";
import {
  authorshipRefusals,
  type ClusterDatabase,
  converged,
  expectGaplessSequence as expectGaplessIn,
  expectStored as expectStoredIn,
  idsOf,
  ownerOf as ownerIn,
  storedIds as storedIn,
  trackAcked as trackAckedBy,
} from "./support/cluster-checks.js";
import { type CuttableProxy, startCuttableProxy } from "./support/cuttable-proxy.js";
import { openProvider, signUserToken, TEST_APP, type TestProvider } from "./support/relay.js";
import { type RoundRobinProxy, startRoundRobinProxy } from "./support/round-robin-proxy.js";
import { waitFor } from "./support/wait.js";

const { schema, keyPrefix } = clusterRunNames("main");
const LEASE_MS = 3_000;

let admin: Sql;
let redis: RedisClientType;
let db: ClusterDatabase;
let balancer: RoundRobinProxy;
/** The nodes reach Redis through this, so a test can take Redis away from them. */
let redisLink: CuttableProxy;
const nodes: ClusterNode[] = [];
const clients: ParleyClient[] = [];
const providers: TestProvider[] = [];

beforeAll(async () => {
  ({ admin, redis } = await clusterServices());
  const redisUrl = new URL(REDIS_URL);
  const redisPort = Number(redisUrl.port || 6379);
  redisLink = await startCuttableProxy(() => redisPort);
  redisUrl.host = `127.0.0.1:${new URL(redisLink.url).port}`;
  nodes.push(...(await startClusterNodes(3, { schema, keyPrefix, leaseMs: LEASE_MS, redisUrl: redisUrl.toString() })));
  db = { admin, reader: await createPostgresStorage({ url: PG_URL, schema }), schema };
  // Every node in turn, skipping dead ones: it does not hash on the room, so most connections are misrouted.
  balancer = await startRoundRobinProxy(() => nodes.map((node) => node.port));
}, 90_000);

afterEach(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  for (const provider of providers.splice(0)) provider.destroy();
});

afterAll(async () => {
  await balancer?.close();
  await redisLink?.close();
  for (const node of nodes) await node.relay.stop();
  await db?.reader.close();
  if (admin !== undefined) await removeClusterData({ admin, redis }, schema, keyPrefix);
});

/** What a FLUSHALL does to this cluster, without touching other users of the same Redis. */
const forgetRedisData = () => forgetKeys(redis, keyPrefix);

async function loggedIn(userId: string, relayUrl: string): Promise<ParleyClient> {
  const client = createClient({ appId: TEST_APP.id, relayUrl, storage: memoryStorage(), WebSocket });
  clients.push(client);
  await client.login(userId, await signUserToken(userId));
  return client;
}

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const ownerOf = (userId: string) => ownerIn(db, userRoom(userId));
const storedIds = (userId: string) => storedIn(db, userRoom(userId));
const expectStored = (acked: Set<string>, users: string[]) => expectStoredIn(db, acked, users.map(userRoom));
const expectGaplessSequence = (userId: string) => expectGaplessIn(db, userRoom(userId));
const trackAcked = (groups: ParleyClient[][]) => trackAckedBy(groups.flat());

/** How many upgrades the nodes piped to another node so far (their debug logs). */
const pipedUpgrades = () =>
  nodes.flatMap((node) => node.relay.logs).filter((line) => line.includes(`"msg":"upgrade piped to the room's owner"`))
    .length;

/**
 * No node refused a client's update for authorship (4409) since it started: after a failover, no client is
 * refused for holding what another client wrote.
 */
const expectNoAuthorshipRefusals = () => expect(authorshipRefusals(nodes)).toEqual([]);

describe("several relay nodes", () => {
  it("serves each room from one node, whichever node a client connects through", async () => {
    const users = ["ana", "bo", "cy"];
    // Two clients per room on two different nodes: at least one of them reaches the owner through a pipe.
    const groups = await Promise.all(
      users.map((userId, i) =>
        Promise.all([0, 1].map((j) => loggedIn(userId, nodes[(i + j) % nodes.length]!.relay.url))),
      ),
    );
    for (const [i, group] of groups.entries()) {
      for (const [j, client] of group.entries()) for (let k = 0; k < 3; k++) await client.send(`${i}.${j}.${k}`);
    }
    for (const [i, group] of groups.entries()) await converged(group, 6, `${users[i]}'s clients agree`);

    for (const [i, userId] of users.entries()) {
      expect(await storedIds(userId)).toEqual(idsOf(groups[i]![0]!));
      const owner = await ownerOf(userId);
      expect(nodes.map((node) => node.id)).toContain(owner);
      // The room → owner cache in Redis names the lease holder.
      expect((await redis.get(`${keyPrefix}room:${userRoom(userId)}`))?.split(" ")[0]).toBe(owner);
    }
    expect(pipedUpgrades()).toBeGreaterThanOrEqual(users.length);
  });

  it("answers the business API about a conversation on the node serving it, whichever node it reaches", async () => {
    const client = await loggedIn("nia", balancer.url);
    await client.send("hello, business");
    await converged([client], 1, "nia's message");
    const owner = await ownerOf("nia");
    const others = nodes.filter((node) => node.id !== owner);
    for (const node of others) {
      const posted = await api(node.relay, "POST", "users/nia/messages", { body: { text: `reply via ${node.id}` } });
      expect(posted.status).toBe(201);
    }
    await converged([client], 3, "the business replies on the client");
    const read = await api(others[0]!.relay, "GET", "users/nia/messages");
    expect(read.status).toBe(200);
    for (const node of others) expect(JSON.stringify(read.body)).toContain(`reply via ${node.id}`);
    // The requests were forwarded: the room stayed with its owner.
    expect(await ownerOf("nia")).toBe(owner);
    // The conversation list, answered by the node it reaches, reads a room served elsewhere from PostgreSQL.
    const listed = await api(others[1]!.relay, "GET", "users?limit=100");
    expect(listed.status).toBe(200);
    const nia = listed.body.users.find((user: { id: string }) => user.id === "nia");
    expect(nia?.lastMessage?.text).toBe(`reply via ${others[1]!.id}`);
  });

  it("loses nothing when Redis loses its data mid-traffic", async () => {
    const users = ["dee", "eli"];
    const groups = await Promise.all(
      users.map((userId) => Promise.all([0, 1].map(() => loggedIn(userId, balancer.url)))),
    );
    for (const group of groups) for (const client of group) await client.send("before the flush");
    expect(await forgetRedisData()).toBeGreaterThan(0);
    for (const group of groups) for (const client of group) await client.send("right after the flush");
    // New devices arrive through the balancer while the cache is empty: the leases route them.
    for (const [i, userId] of users.entries()) groups[i]!.push(await loggedIn(userId, balancer.url));
    for (const group of groups) for (const client of group) await client.send("after the new device");
    for (const [i, group] of groups.entries()) await converged(group, 7, `${users[i]}'s clients agree`);
    for (const [i, userId] of users.entries()) expect(await storedIds(userId)).toEqual(idsOf(groups[i]![0]!));
    // The heartbeats are back.
    await waitFor(async () => (await redis.exists(nodes.map((node) => `${keyPrefix}node:${node.id}`))) === 3, {
      what: "every node's heartbeat written again",
    });
  });

  it("keeps serving, misrouted connections included, while Redis is unreachable", async () => {
    const group = await Promise.all([0, 1].map(() => loggedIn("jo", balancer.url)));
    for (const client of group) await client.send("before Redis goes away");
    await converged(group, 2, "jo's first messages");
    redisLink.cut();
    try {
      for (const client of group) await client.send("while Redis is away");
      // New devices through every node: routing falls back to the leases in PostgreSQL.
      for (const node of nodes) group.push(await loggedIn("jo", node.relay.url));
      for (const client of group.slice(2)) await client.send("a new device while Redis is away");
      await converged(group, 7, "jo's clients agree without Redis");
    } finally {
      redisLink.heal();
    }
    expect(await storedIds("jo")).toEqual(idsOf(group[0]!));
    // Back, every node writes its heartbeat again.
    await forgetRedisData();
    await waitFor(async () => (await redis.exists(nodes.map((node) => `${keyPrefix}node:${node.id}`))) === 3, {
      what: "every node's heartbeat written after Redis came back",
    });
  });

  it("refuses an anonymous secret after its logout on every node, also once the node that stored it is killed", async () => {
    const storage = memoryStorage();
    const visitor = createClient({ appId: TEST_APP.id, relayUrl: balancer.url, storage, WebSocket });
    clients.push(visitor);
    await visitor.ready;
    await visitor.send("anonymous words");
    await visitor.flush();
    const oldToken = await storedAnonymousToken(storage);
    const subject = anonymousIdFromSecret(parseAnonymousToken(oldToken) ?? "");
    const oldRoom = roomName({ appId: TEST_APP.id, kind: "anonymous", subject });
    await visitor.logout();
    // The node that served the anonymous room (logs name rooms by a hash) stored the revocation; it dies.
    const hash = createHash("sha256").update(oldRoom).digest("hex").slice(0, 16);
    const served = nodes.find((node) =>
      node.relay.logs.some((line) => line.includes('"msg":"connection opened"') && line.includes(hash)),
    )!;
    expect(served).toBeDefined();
    await served.relay.kill();
    try {
      for (const node of nodes.filter((candidate) => candidate !== served)) {
        expect((await connectRaw(node.relay, oldRoom, oldToken, {}, 30_000)).closeCode).toBe(4403);
      }
    } finally {
      await served.relay.restart();
    }
  });

  it("closes the room on an owner paused past its lease, which stores nothing more; its clients move", async () => {
    const group = await Promise.all([0, 1].map(() => loggedIn("ivy", balancer.url)));
    for (const client of group) await client.send("before the pause");
    await converged(group, 2, "ivy's first messages");
    const owner = await ownerOf("ivy");
    const stopped = nodes.find((node) => node.id === owner)!;
    const others = nodes.filter((node) => node !== stopped);
    stopped.relay.signal("SIGSTOP");
    try {
      // A new device arrives through another node: it waits out the paused owner's lease, then takes the room.
      group.push(await loggedIn("ivy", others[0]!.relay.url));
      await group[2]!.send("while the owner is paused");
      await waitFor(() => group[2]!.messages().every((m) => m.status === "sent"), {
        what: "the new owner acknowledges",
        timeoutMs: 30_000,
      });
      expect(others.map((node) => node.id)).toContain(await ownerOf("ivy"));
      await group[0]!.send("sent to the paused owner");
    } finally {
      stopped.relay.signal("SIGCONT");
    }
    // Back, the old owner finds its lease gone: it closes the room (its clients reconnect to the new owner).
    await waitFor(() => stopped.relay.logs.some((line) => line.includes("room lease lost")), {
      what: "the old owner drops the room",
    });
    await converged(group, 4, "ivy's clients agree");
    expectNoAuthorshipRefusals();
    expect(await storedIds("ivy")).toEqual(idsOf(group[0]!));
    await expectGaplessSequence("ivy");
  });

  it("moves a room to another node when its owner is SIGKILLed, losing nothing acknowledged", async () => {
    const users = ["fay", "gus", "hal"];
    const groups = await Promise.all(
      users.map((userId) => Promise.all([0, 1].map(() => loggedIn(userId, balancer.url)))),
    );
    for (const group of groups) for (const client of group) await client.send("hello");
    for (const [i, group] of groups.entries()) await converged(group, 2, `${users[i]}'s first messages`);
    const owner = await ownerOf("fay");
    const killed = nodes.find((node) => node.id === owner)!;
    expect(killed).toBeDefined();

    const acked = trackAcked(groups);
    // Every client keeps writing while the owner dies: 6 rounds, the kill after the second.
    for (let round = 0; round < 6; round++) {
      if (round === 2) await killed.relay.kill();
      for (const group of groups) for (const client of group) await client.send(`round ${round}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    for (const [i, group] of groups.entries()) await converged(group, 14, `${users[i]}'s clients agree`);

    const newOwner = await waitFor(() => ownerOf("fay"), { what: "fay's room owned again" });
    expect(newOwner).not.toBe(killed.id);
    for (const [i, userId] of users.entries()) expect(await storedIds(userId)).toEqual(idsOf(groups[i]![0]!));
    // Every id any client ever saw acknowledged is stored in its room.
    await expectStored(acked, users);
    expectNoAuthorshipRefusals();
    await killed.relay.restart();
  });

  it("lets one of two clients claiming one Yjs clientID through two nodes at once win, and refuses the other (4409)", async () => {
    const room = userRoom("uma");
    const token = await signUserToken("uma");
    const clientID = 1 + Math.floor(Math.random() * 0x7fff_ffff);
    // Two stock y-websocket clients of the user, each with its own client secret, on two nodes (one is piped).
    const racers = [0, 1].map((i) => {
      const doc = new Y.Doc();
      doc.clientID = clientID;
      const racer = openProvider(nodes[i]!.relay, room, token, { doc });
      providers.push(racer);
      const closes: number[] = [];
      racer.provider.on("connection-close", (event) => {
        closes.push(event?.code ?? 0);
        // A refused client would re-send the same structs at each reconnect: stop it after the first refusal.
        if (event?.code === 4409) racer.provider.disconnect();
      });
      return { racer, closes, messageId: `race-${i}-${Math.random().toString(36).slice(2, 10)}` };
    });
    await waitFor(() => racers.every(({ racer }) => racer.provider.synced), { what: "both racers synced" });
    // The same moment: both write their first message with the same clientID (same clock, same length).
    for (const { racer, messageId } of racers) {
      const record: MessageRecord = {
        id: messageId,
        role: "user",
        client: racer.clientId,
        text: messageId,
        ts: Date.now(),
      };
      messagesOf(racer.doc).push([record]);
    }
    await waitFor(() => racers.some(({ closes }) => closes.includes(4409)), { what: "one racer refused" });
    const losers = racers.filter(({ closes }) => closes.includes(4409));
    expect(losers).toHaveLength(1);
    const winner = racers.find(({ closes }) => !closes.includes(4409))!;
    const loser = losers[0]!;
    // The clientID is the winner's; nothing the loser wrote is stored.
    expect(ownersOf(await readRelayDoc(nodes[0]!.relay, room, token)).get(String(clientID))).toBe(
      winner.racer.clientId,
    );
    expect(await storedIds("uma")).toEqual([winner.messageId]);
    // A client on every node reads the winner's message and nothing of the loser's.
    for (const node of nodes) {
      const doc = await readRelayDoc(node.relay, room, token);
      expect(listMessages(doc).map((m) => m.id)).toEqual([winner.messageId]);
    }
    await waitFor(() => listMessages(winner.racer.doc).length === 1, { what: "the winner keeps its message alone" });
    expect(loser.messageId).not.toBe(winner.messageId);
  });
});
