/**
 * What the cluster tests assert after a failure: every acknowledged message stored and shown by every client of its
 * room in one order, no gap in a room's sequence, no client refused for authorship. Read from PostgreSQL directly
 * (never through a node) and from the nodes' logs.
 */
import type { ParleyClient } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import type { PostgresStorage } from "@parley/relay-postgres";
import type { Sql } from "postgres";
import { expect } from "vitest";
import * as Y from "yjs";
import type { ClusterNode } from "./cluster.js";
import { TEST_APP } from "./relay.js";
import { waitFor } from "./wait.js";

/** The room of the test app's user `userId`. */
export const userRoom = (userId: string): string => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

/** A test's view of one cluster's schema: `admin` reads its tables, `reader` its documents (no lease taken). */
export interface ClusterDatabase {
  admin: Sql;
  reader: PostgresStorage;
  schema: string;
}

/** The node id holding a live lease on `room`, from PostgreSQL. */
export async function ownerOf(db: ClusterDatabase, room: string): Promise<string | undefined> {
  const rows = await db.admin.unsafe<Array<{ owner: string }>>(
    `SELECT owner FROM "${db.schema}".rooms WHERE name = $1 AND owner IS NOT NULL AND lease_until > now()`,
    [room],
  );
  return rows[0]?.owner.split(" ")[0];
}

/** The message ids PostgreSQL holds for `room`, sorted. */
export async function storedIds(db: ClusterDatabase, room: string): Promise<string[]> {
  const doc = new Y.Doc();
  for (const update of await db.reader.load(room)) Y.applyUpdate(doc, update);
  return listMessages(doc)
    .map((m) => m.id)
    .sort();
}

/** The ids `client` shows, sorted. */
export const idsOf = (client: ParleyClient): string[] =>
  client
    .messages()
    .map((m) => m.id)
    .sort();

/** Records every message id any of `clients` ever shows as `sent`, as it happens. */
export function trackAcked(clients: ParleyClient[]): Set<string> {
  const acked = new Set<string>();
  for (const client of clients) {
    client.on("messages", (messages) => {
      for (const m of messages) if (m.status === "sent") acked.add(m.id);
    });
  }
  return acked;
}

/** Every id in `acked` is stored in one of `rooms`. */
export async function expectStored(db: ClusterDatabase, acked: Set<string>, rooms: string[]): Promise<void> {
  const stored = new Set((await Promise.all(rooms.map((room) => storedIds(db, room)))).flat());
  expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
}

/** The room's stored updates are numbered without a gap or a duplicate, whichever nodes wrote them. */
export async function expectGaplessSequence(db: ClusterDatabase, room: string): Promise<void> {
  const [row] = await db.admin.unsafe<Array<{ first: number; last: number; count: number; last_seq: number }>>(
    `SELECT min(u.seq)::int AS first, max(u.seq)::int AS last, count(*)::int AS count, r.last_seq::int AS last_seq
     FROM "${db.schema}".updates u JOIN "${db.schema}".rooms r ON r.name = u.room WHERE u.room = $1
     GROUP BY r.last_seq`,
    [room],
  );
  expect(row).toBeDefined();
  expect(row!.count).toBe(row!.last - row!.first + 1);
  expect(row!.last).toBe(row!.last_seq);
}

/** Waits until every client of a room has `count` messages, all sent, in the same order on each, no id twice. */
export async function converged(group: ParleyClient[], count: number, what: string): Promise<void> {
  const order = (client: ParleyClient) => client.messages().map((m) => m.id);
  await waitFor(
    () =>
      group.every((c) => c.messages().length === count && c.messages().every((m) => m.status === "sent")) &&
      group.every((c) => order(c).join() === order(group[0]!).join()),
    { what, timeoutMs: 45_000 },
  );
  expect(new Set(order(group[0]!)).size).toBe(count);
}

/** The log lines in which a node refused a client's frame with `code` since it last started. */
export const refusals = (nodes: ClusterNode[], code: number): string[] =>
  nodes
    .flatMap((node) => node.relay.logs)
    .filter((line) => line.includes('"msg":"connection refused a frame"') && line.includes(`"code":${code}`));

/** The refusals for authorship (4409): a client refused for holding what another client wrote. */
export const authorshipRefusals = (nodes: ClusterNode[]): string[] => refusals(nodes, 4409);
