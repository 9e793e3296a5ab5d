/**
 * Three relay processes on one PostgreSQL and one Redis, room owners SIGKILLed twenty times mid-traffic (and
 * SIGTERMed a few times, handing their rooms over), each restarted under its nodeId. Clients in four rooms keep
 * writing between the kills, connected through a round-robin balancer or straight to a node that does not serve
 * their room. Every node delivers the app's webhooks to a receiver in the test. Afterwards (issue 15):
 * every message any client saw `sent` is in PostgreSQL and on every client of its room, in one order, no id
 * twice; no client was refused for holding what others wrote (4409) and none is left resyncing; every such
 * message produced a `message.created` delivery, and all deliveries of one event carry one event id and one body.
 *
 * Needs PostgreSQL and Redis (see test/support/cluster.ts); each run uses its own schema and key prefix.
 */
import type { WebhookEvent } from "@parley/business";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { createPostgresStorage } from "@parley/relay-postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { type ReceivedDelivery, startReceiver, type WebhookReceiver, webhookConfig } from "./business-support.js";
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
  expectStored,
  idsOf,
  ownerOf,
  refusals,
  storedIds,
  trackAcked,
  userRoom,
} from "./support/cluster-checks.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { type RoundRobinProxy, startRoundRobinProxy } from "./support/round-robin-proxy.js";
import { waitFor } from "./support/wait.js";

const { schema, keyPrefix } = clusterRunNames("kills");
const LEASE_MS = 3_000;
/** Cycles of the schedule: every sixth stops its owner with SIGTERM, the others SIGKILL it (20 kills). */
const CYCLES = 24;
const USERS = ["kay", "lou", "max", "ned"];

let services: Awaited<ReturnType<typeof clusterServices>>;
let db: ClusterDatabase;
let balancer: RoundRobinProxy;
let receiver: WebhookReceiver;
const nodes: ClusterNode[] = [];
const clients: ParleyClient[] = [];

beforeAll(async () => {
  services = await clusterServices();
  receiver = await startReceiver();
  receiver.respond = () => 204;
  // A short attempt timeout: a delivery a SIGKILLed node was sending comes back to the others after it + 5 s.
  const hooks = { ...(webhookConfig(receiver.url, ["message.created"]) as object), timeoutMs: 500 };
  const apps = [
    { id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }], webhooks: [hooks] },
  ];
  nodes.push(...(await startClusterNodes(3, { schema, keyPrefix, leaseMs: LEASE_MS, extraConfig: { apps } })));
  db = { admin: services.admin, reader: await createPostgresStorage({ url: PG_URL, schema }), schema };
  balancer = await startRoundRobinProxy(() => nodes.map((node) => node.port));
}, 90_000);

afterAll(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await balancer?.close();
  for (const node of nodes) await node.relay.stop();
  await receiver?.stop();
  await db?.reader.close();
  if (services) await removeClusterData(services, schema, keyPrefix);
});

async function loggedIn(userId: string, relayUrl: string): Promise<ParleyClient> {
  const client = createClient({ appId: TEST_APP.id, relayUrl, storage: memoryStorage(), WebSocket });
  clients.push(client);
  await client.login(userId, await signUserToken(userId));
  return client;
}

const eventOf = (delivery: ReceivedDelivery) => JSON.parse(delivery.rawBody) as WebhookEvent;
const messageIdOf = (event: WebhookEvent) => (event.data as { message: { id: string } }).message.id;

it("loses nothing acknowledged, and delivers its webhook, while room owners are SIGKILLed twenty times mid-traffic", async () => {
  // Per room: one client through the balancer (most of its connections reach a node that pipes them) and one
  // pinned to a node, which serves the room only when it happens to hold the lease.
  const groups = await Promise.all(
    USERS.map((userId, i) =>
      Promise.all([loggedIn(userId, balancer.url), loggedIn(userId, nodes[i % nodes.length]!.relay.url)]),
    ),
  );
  const everyone = groups.flat();
  const acked = trackAcked(everyone);
  // Refusals logged by a process before it was killed: its logs are replaced when it restarts.
  const refused: string[] = [];
  let kills = 0;
  /** Clients told to run a full sync (4531): a client that was behind; converged() shows none stayed so. */
  let resyncs = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    for (const client of everyone) await client.send(`cycle ${cycle}, before`);
    const room = userRoom(USERS[cycle % USERS.length]!);
    const owner = await waitFor(() => ownerOf(db, room), { what: `an owner for the room of cycle ${cycle}` });
    const node = nodes.find((candidate) => candidate.id === owner)!;
    // SIGKILL while the sends above are still on their way (not awaited as acknowledged). A SIGTERMed node
    // releases its rooms instead; a restarted one takes its own rooms back at once (a new fence each).
    if (cycle % 6 === 5) {
      await node.relay.stop();
    } else {
      await node.relay.kill();
      kills++;
    }
    for (const client of everyone) await client.send(`cycle ${cycle}, after`);
    refused.push(...authorshipRefusals([node]));
    resyncs += refusals([node], 4531).length;
    await node.relay.restart();
  }
  expect(kills).toBe(20);

  for (const [i, group] of groups.entries()) await converged(group, 2 * 2 * CYCLES, `${USERS[i]}'s clients agree`);
  // 1. Every id a client saw acknowledged is stored, and every client of the room shows it.
  await expectStored(db, acked, USERS.map(userRoom));
  for (const [i, userId] of USERS.entries()) {
    expect(await storedIds(db, userRoom(userId))).toEqual(idsOf(groups[i]![0]!));
    await expectGaplessSequence(db, userRoom(userId));
  }
  expect(acked.size).toBe(USERS.length * 2 * 2 * CYCLES);
  // 2. Nobody refused for holding others' structs; nobody stuck resyncing (converged() saw every message sent).
  expect([...refused, ...authorshipRefusals(nodes)]).toEqual([]);
  resyncs += refusals(nodes, 4531).length;

  // 8. A `message.created` delivery for every acknowledged message, whichever node stored it or sent it.
  const deliveredIds = () => new Set(receiver.received.map((d) => messageIdOf(eventOf(d))));
  await waitFor(() => [...acked].every((id) => deliveredIds().has(id)), {
    what: "a webhook delivery for every acknowledged message",
    timeoutMs: 45_000,
  });
  const byEvent = new Map<string, Set<string>>();
  const eventsOfMessage = new Map<string, Set<string>>();
  for (const delivery of receiver.received) {
    const event = eventOf(delivery);
    expect(delivery.headers["parley-event-id"]).toBe(event.id);
    byEvent.set(event.id, (byEvent.get(event.id) ?? new Set()).add(delivery.rawBody));
    const messageId = messageIdOf(event);
    eventsOfMessage.set(messageId, (eventsOfMessage.get(messageId) ?? new Set()).add(event.id));
  }
  // Redeliveries (a node killed mid-attempt) repeat the event: same id, same body.
  expect([...byEvent.values()].filter((bodies) => bodies.size !== 1)).toEqual([]);
  // One event per message: a message stored once (redelivered or re-sent after a kill) is reported once.
  expect([...eventsOfMessage].filter(([, events]) => events.size !== 1)).toEqual([]);
  console.info(
    `kills: ${kills}, resyncs asked: ${resyncs}, acknowledged: ${acked.size}, deliveries: ${receiver.received.length}, events: ${byEvent.size}`,
  );
}, 300_000);
