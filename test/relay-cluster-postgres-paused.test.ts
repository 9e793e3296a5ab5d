/**
 * PostgreSQL paused under one node of two (issue 15, assertion 9). Node 0 reaches PostgreSQL through a proxy the
 * test pauses: connections stay open, no byte goes through, as behind a stopped server or a stalled network
 * (the shared server itself is never paused). Node 1 reaches it directly. Room "pia" is served by node 0, room
 * "quin" by node 1; each has a client on its owner and one piped through the other node.
 *
 * - Paused for less than the lease: node 0 keeps its rooms and its connections; pia's messages stay `pending`
 *   (nothing acknowledged, nothing stored) until the proxy resumes, then all turn `sent`.
 * - Paused past the lease: node 0 cannot confirm a renewal, so by its own clock it closes pia and withholds its
 *   Redis heartbeat (it cannot load a room without its database). The client that connects through node 1 then
 *   reaches node 1, which takes pia over once node 0's lease has run out in PostgreSQL and acknowledges what that
 *   client holds. The client pinned to node 0 waits `pending` (its reconnect waits on node 0's database), or, if it
 *   reconnects once node 1 holds the room, node 0 pipes it there (Redis names the owner): either is right, so the
 *   test asserts neither. Once resumed, node 0 beats again, every message is
 *   acknowledged and stored once, and the room's sequence has no gap.
 *
 * Either way quin's clients, the one piped through node 0 included, are acknowledged throughout: the pause
 * harms only the rooms of the node that lost its database.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { createPostgresStorage } from "@parley/relay-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type ClusterNode,
  clusterRunNames,
  clusterServices,
  PG_URL,
  removeClusterData,
  startClusterNodes,
} from "./support/cluster.js";
import {
  authorshipRefusals,
  type ClusterDatabase,
  converged,
  expectGaplessSequence,
  idsOf,
  ownerOf,
  storedIds,
  userRoom,
} from "./support/cluster-checks.js";
import { type CuttableProxy, startCuttableProxy } from "./support/cuttable-proxy.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const { schema, keyPrefix } = clusterRunNames("pgpause");
/**
 * Longer than the other cluster tests' 3 s: the short pause (a few hundred ms of sends and look-ups) must stay well
 * inside what is left of a lease renewed every third of it, also on a loaded machine.
 */
const LEASE_MS = 6_000;

let services: Awaited<ReturnType<typeof clusterServices>>;
let db: ClusterDatabase;
/** Node 0's link to PostgreSQL. */
let pgLink: CuttableProxy;
const nodes: ClusterNode[] = [];
const clients: ParleyClient[] = [];
/** Room "pia" (served by node 0) and room "quin" (served by node 1), each with a client piped through the other. */
let pia: ParleyClient[];
let quin: ParleyClient[];

async function loggedIn(userId: string, node: ClusterNode): Promise<ParleyClient> {
  const client = createClient({ appId: TEST_APP.id, relayUrl: node.relay.url, storage: memoryStorage(), WebSocket });
  clients.push(client);
  await client.login(userId, await signUserToken(userId));
  return client;
}

/** `userId`'s first client on `owner` (which loads the room and takes its lease), the second piped through `other`. */
async function roomServedBy(userId: string, owner: ClusterNode, other: ClusterNode): Promise<ParleyClient[]> {
  const first = await loggedIn(userId, owner);
  await first.send("hello");
  await converged([first], 1, `${userId}'s first message`);
  const group = [first, await loggedIn(userId, other)];
  await converged(group, 1, `${userId}'s second client synced`);
  expect(await ownerOf(db, userRoom(userId))).toBe(owner.id);
  return group;
}

beforeAll(async () => {
  services = await clusterServices();
  const pgPort = Number(new URL(PG_URL).port || 5432);
  pgLink = await startCuttableProxy(() => pgPort);
  const proxied = new URL(PG_URL);
  proxied.port = String(pgLink.port);
  const postgresUrlOf = (i: number) => (i === 0 ? proxied.toString() : PG_URL);
  // Rooms stay loaded (the tests' default lets them hibernate after 250 ms): what the pause holds up is then the
  // append of a change the node applied and forwarded, observable on the other client. (A hibernated room's
  // wake-up would wait for its load the same way, with nothing to observe.)
  const extraConfig = { roomHibernateMs: 60_000 };
  nodes.push(...(await startClusterNodes(2, { schema, keyPrefix, leaseMs: LEASE_MS, postgresUrlOf, extraConfig })));
  db = { admin: services.admin, reader: await createPostgresStorage({ url: PG_URL, schema }), schema };
  pia = await roomServedBy("pia", nodes[0]!, nodes[1]!);
  quin = await roomServedBy("quin", nodes[1]!, nodes[0]!);
}, 90_000);

afterAll(async () => {
  pgLink?.resume();
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  for (const node of nodes) await node.relay.stop();
  await pgLink?.close();
  await db?.reader.close();
  if (services) await removeClusterData(services, schema, keyPrefix);
});

/** Sends `text` from every client of `group`; returns the ids. */
async function sendFromEach(group: ParleyClient[], text: string): Promise<string[]> {
  return Promise.all(group.map(async (client) => (await client.send(text)).id));
}

/** Every client of `group` shows each of `ids`, all of them `sent`. */
const allSent = (group: ParleyClient[], ids: string[]) =>
  group.every((client) => ids.every((id) => client.messages().find((m) => m.id === id)?.status === "sent"));

/** Records the ids among `ids` any client of `group` shows as `sent` from now on. */
function watchAcks(group: ParleyClient[], ids: () => string[]): Set<string> {
  const seen = new Set<string>();
  for (const client of group) {
    client.on("messages", (messages) => {
      for (const m of messages) if (m.status === "sent" && ids().includes(m.id)) seen.add(m.id);
    });
  }
  return seen;
}

/** The connection status changes of `group` from now on. */
function watchStatus(group: ParleyClient[]): string[] {
  const seen: string[] = [];
  for (const client of group) client.on("status", (status) => seen.push(status));
  return seen;
}

const leaseLosses = () => nodes[0]!.relay.logs.filter((line) => line.includes('"msg":"room lease lost; closing room"'));

describe("PostgreSQL paused under one node", () => {
  it("for less than the lease: its rooms' messages stay pending until it is back, and nobody reconnects", async () => {
    const before = pia[0]!.messages().length;
    let paused: string[] = [];
    let resumed = false;
    const ackedWhilePaused = watchAcks(pia, () => (resumed ? [] : paused));
    const statuses = watchStatus([...pia, ...quin]);
    pgLink.pause();
    try {
      paused = await sendFromEach(pia, "while node 0's database is paused");
      const other = await sendFromEach(quin, "while node 0's database is paused");
      // Node 0 applied pia's messages (each client got the other's, forwarded before it is stored) ...
      await waitFor(() => pia.every((client) => paused.every((id) => client.messages().some((m) => m.id === id))), {
        what: "pia's messages forwarded by node 0",
      });
      // ... and node 1 acknowledges quin's, the client piped through node 0 included.
      await waitFor(() => allSent(quin, other), { what: "quin's messages acknowledged during the pause" });
      expect(
        pia.flatMap((client) =>
          client
            .messages()
            .filter((m) => paused.includes(m.id))
            .map((m) => m.status),
        ),
      ).toEqual(["pending", "pending", "pending", "pending"]);
      expect((await storedIds(db, userRoom("pia"))).filter((id) => paused.includes(id))).toEqual([]);
      expect(pgLink.heldBytes).toBeGreaterThan(0);
    } finally {
      resumed = true;
      pgLink.resume();
    }
    expect([...ackedWhilePaused]).toEqual([]);
    await waitFor(() => allSent(pia, paused), { what: "pia's messages acknowledged once the database is back" });
    await converged(pia, before + 2, "pia's clients agree");
    expect(await storedIds(db, userRoom("pia"))).toEqual(idsOf(pia[0]!));
    // Shorter than the lease: node 0 kept the room, and its clients their connections.
    expect(leaseLosses()).toEqual([]);
    expect(await ownerOf(db, userRoom("pia"))).toBe(nodes[0]!.id);
    expect(statuses).toEqual([]);
    await converged(quin, quin[0]!.messages().length, "quin's clients agree");
  });

  it("past the lease: it gives its rooms up and drops out of routing; another node takes them, nothing is lost", async () => {
    const [cutOff, healthy] = nodes as [ClusterNode, ClusterNode];
    const [pinned, movable] = pia as [ParleyClient, ParleyClient];
    const before = pinned.messages().length;
    pgLink.pause();
    try {
      const first = await sendFromEach(pia, "before node 0 gives up its lease");
      const early = await sendFromEach(quin, "while node 0's database is paused");
      await waitFor(() => allSent(quin, early), { what: "quin's messages acknowledged early in the pause" });
      // No renewal confirmed within the lease: node 0 closes the room (its writes would be fenced anyway) and
      // withholds its heartbeat, so the other node stops piping the room's clients to it.
      await waitFor(() => leaseLosses().length > 0, { what: "node 0 drops pia's room", timeoutMs: 3 * LEASE_MS });
      await waitFor(() => cutOff.relay.logs.some((line) => line.includes('"msg":"heartbeat withheld')), {
        what: "node 0 withholds its heartbeat",
      });
      // The client that connects through node 1 reaches node 1 itself, which takes the room once node 0's lease has
      // run out in PostgreSQL, and stores what that client holds: its own messages, and node 0's forwarded one,
      // handed back with its attestation.
      await pinned.send("after node 0 gave up its lease");
      const late = (await movable.send("after node 0 gave up its lease")).id;
      await waitFor(() => allSent([movable], [...first, late]), {
        what: "the room served by node 1 while node 0's database is paused",
        timeoutMs: 6 * LEASE_MS,
      });
      expect(await ownerOf(db, userRoom("pia"))).toBe(healthy.id);
      const late2 = await sendFromEach(quin, "after node 0 gave up its lease");
      await waitFor(() => allSent(quin, late2), { what: "quin's messages acknowledged late in the pause" });
    } finally {
      pgLink.resume();
    }
    await waitFor(() => cutOff.relay.logs.some((line) => line.includes('"msg":"heartbeat resumed')), {
      what: "node 0 beats again once its database answers",
    });
    await converged(pia, before + 4, "pia's clients agree once the database is back");
    expect(await storedIds(db, userRoom("pia"))).toEqual(idsOf(pia[0]!));
    await expectGaplessSequence(db, userRoom("pia"));
    await converged(quin, quin[0]!.messages().length, "quin's clients agree");
    expect(await storedIds(db, userRoom("quin"))).toEqual(idsOf(quin[0]!));
    await expectGaplessSequence(db, userRoom("quin"));
    expect(authorshipRefusals(nodes)).toEqual([]);
  });
});
