/**
 * Connection quotas of the cluster, not of each node: two relay processes on PostgreSQL and Redis with
 * `connectionsPerUser: 2` and `connectionsPerIp: 2`, clients on distinct loopback addresses (127.0.0.x).
 * A user's third connection is refused wherever it lands (all of a user's connections reach the node serving
 * its room, so that node's count already was the cluster's); an address's third connection is refused
 * although each node holds fewer than two of them (its rooms are served by different nodes), which per-node
 * counting let through. Codes as on one relay.
 */
import { CloseCode, createSecret, roomName } from "@parley/protocol";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { type ClusterNode, clusterForThisFile } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const sockets: WebSocket[] = [];
const cluster = clusterForThisFile("quotas", 2, {
  leaseMs: 3_000,
  extraConfig: { limits: { connectionsPerUser: 2, connectionsPerIp: 2 } },
  beforeStop: () => {
    for (const ws of sockets) ws.terminate();
  },
});

interface Connection {
  /** Whether the relay admitted it (it sent its first sync frame). */
  admitted(): boolean;
  /** The close code and the reason's token. */
  closed: Promise<{ code: number; reason: string }>;
  /** Whether it was admitted (its first frame) or closed first. */
  outcome: Promise<"admitted" | "closed">;
  close(): void;
}

/** A raw WebSocket to `subject`'s room through `node`, from the loopback address `from`. */
async function connect(node: ClusterNode, subject: string, from: string): Promise<Connection> {
  const room = roomName({ appId: TEST_APP.id, kind: "user", subject });
  const params = new URLSearchParams({ token: await signUserToken(subject), client: createSecret() });
  const ws = new WebSocket(`${node.relay.url}/${room}?${params}`, { localAddress: from });
  sockets.push(ws);
  let frames = 0;
  ws.on("message", () => frames++);
  ws.on("error", () => {});
  const outcome = new Promise<"admitted" | "closed">((resolve) => {
    ws.once("message", () => resolve("admitted"));
    ws.once("close", () => resolve("closed"));
  });
  return {
    outcome,
    admitted: () => frames > 0,
    closed: new Promise((resolve) =>
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString().split(" ")[0] ?? "" })),
    ),
    close: () => ws.close(),
  };
}

async function admitted(connection: Connection, what: string): Promise<Connection> {
  await waitFor(connection.admitted, { what });
  return connection;
}

it("refuses a user's third connection through either node (4530 per-user)", async () => {
  const [first, second] = cluster.nodes as [ClusterNode, ClusterNode];
  await admitted(await connect(first, "ann", "127.0.0.3"), "ann's first connection, on node-0");
  await admitted(await connect(second, "ann", "127.0.0.4"), "ann's second connection, through node-1");
  for (const [node, from] of [
    [second, "127.0.0.5"],
    [first, "127.0.0.6"],
  ] as const) {
    const third = await connect(node, "ann", from);
    expect(await third.outcome).toBe("closed");
    expect(await third.closed).toEqual({ code: CloseCode.TooManyConnections, reason: "per-user" });
  }
});

it("counts an address's connections to rooms served by different nodes together (4530 per-address)", async () => {
  const [first, second] = cluster.nodes as [ClusterNode, ClusterNode];
  // Nobody serves these rooms yet: each is served by the node the connection reaches.
  const onFirst = await admitted(await connect(first, "bo", "127.0.0.2"), "127.0.0.2's room on node-0");
  await admitted(await connect(second, "cy", "127.0.0.2"), "127.0.0.2's room on node-1");
  // Each node holds one connection of 127.0.0.2; the cluster holds two, its limit.
  for (const [node, subject] of [
    [first, "dee"],
    [second, "eve"],
  ] as const) {
    const third = await connect(node, subject, "127.0.0.2");
    expect(await third.outcome).toBe("closed");
    expect(await third.closed).toEqual({ code: CloseCode.TooManyConnections, reason: "per-address" });
  }
  // A slot given back on node-0 is free on node-1.
  onFirst.close();
  await onFirst.closed;
  await waitFor(
    async () => {
      const next = await connect(second, "fay", "127.0.0.2");
      return (await next.outcome) === "admitted";
    },
    { what: "127.0.0.2 admitted through node-1 after closing on node-0" },
  );
});

it("gives back the slots of a SIGKILLed node: its address's connections count no more elsewhere", async () => {
  const [first, second] = cluster.nodes as [ClusterNode, ClusterNode];
  // Two connections of 127.0.0.7 on node-1 (their rooms served there): the address is full on node-0 too.
  await admitted(await connect(second, "gus", "127.0.0.7"), "127.0.0.7's first room on node-1");
  await admitted(await connect(second, "hal", "127.0.0.7"), "127.0.0.7's second room on node-1");
  const refused = await connect(first, "ida", "127.0.0.7");
  expect(await refused.outcome).toBe("closed");
  expect(await refused.closed).toEqual({ code: CloseCode.TooManyConnections, reason: "per-address" });
  await second.relay.kill();
  // Nobody releases node-1's slots; they lapse with its heartbeat (three beats) and node-0 admits the address.
  await waitFor(async () => (await (await connect(first, "ida", "127.0.0.7")).outcome) === "admitted", {
    what: "127.0.0.7 admitted on node-0 after node-1 died",
  });
});
