/**
 * The relay process on PostgreSQL (`storage: { kind: "postgres" }` in its config, through the optional
 * @parley/relay-postgres package): two clients sync through it, it is SIGKILLed, and everything the clients
 * saw acknowledged (`sent`) is in PostgreSQL and served again after the restart; while PostgreSQL cannot
 * commit, nothing is acknowledged.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import { createPostgresStorage } from "@parley/relay-postgres";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./support/postgres.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const schema = `parley_it_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgresAdmin();
let relay: RelayHandle | undefined;
const clients: ParleyClient[] = [];

beforeAll(() => assertPostgresReachable(admin));

afterEach(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await relay?.stop();
  relay = undefined;
});

afterAll(async () => {
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

function client(): ParleyClient {
  const made = createClient({ appId: TEST_APP.id, relayUrl: relay!.url, storage: memoryStorage(), WebSocket });
  clients.push(made);
  return made;
}

/** The message ids PostgreSQL holds for `userId`'s room. */
async function storedMessageIds(userId: string): Promise<string[]> {
  const storage = await createPostgresStorage({ url: PG_URL, schema });
  try {
    const doc = new Y.Doc();
    for (const update of await storage.load(roomName({ appId: TEST_APP.id, kind: "user", subject: userId }))) {
      Y.applyUpdate(doc, update);
    }
    return listMessages(doc).map((m) => m.id);
  } finally {
    await storage.close();
  }
}

it("keeps everything acknowledged in PostgreSQL across a SIGKILL of the relay", async () => {
  relay = await startRelay({ extraConfig: { storage: { kind: "postgres", url: PG_URL, schema } } });
  const userId = "pg-durable";
  const [phone, laptop] = [client(), client()];
  await phone.login(userId, await signUserToken(userId));
  await laptop.login(userId, await signUserToken(userId));
  for (let i = 0; i < 10; i++) {
    await phone.send(`from the phone ${i}`);
    await laptop.send(`from the laptop ${i}`);
  }
  for (const device of [phone, laptop]) {
    await waitFor(() => device.messages().length === 20 && device.messages().every((m) => m.status === "sent"), {
      what: "both devices see all 20 messages, acknowledged",
    });
  }
  const acknowledged = phone.messages().map((m) => m.id);
  expect(laptop.messages().map((m) => m.id)).toEqual(acknowledged);

  await relay.kill();
  // In PostgreSQL, read with the package's own storage, not through the relay.
  expect(await storedMessageIds(userId)).toEqual(acknowledged);

  await relay.restart();
  const tablet = client();
  await tablet.login(userId, await signUserToken(userId));
  expect(tablet.messages().map((m) => m.id)).toEqual(acknowledged);
  // The restarted relay claimed the room again and writes with its new fence; a device that was connected
  // before the kill reconnects and syncs through it.
  await tablet.send("from the tablet");
  await laptop.send("from the laptop after the restart");
  for (const device of [tablet, laptop]) {
    await waitFor(() => device.messages().length === 22 && device.messages().every((m) => m.status === "sent"), {
      what: "both messages after the restart seen and acknowledged",
    });
  }
  expect(await storedMessageIds(userId)).toHaveLength(22);
});

it("leaves messages pending while PostgreSQL cannot commit them, and acknowledges them once it can", async () => {
  relay = await startRelay({ extraConfig: { storage: { kind: "postgres", url: PG_URL, schema } } });
  const userId = "pg-stalled";
  const phone = client();
  await phone.login(userId, await signUserToken(userId));
  await phone.send("before the stall");
  await waitFor(() => phone.messages().every((m) => m.status === "sent"), { what: "first message acknowledged" });
  // Stalls the room's writes inside PostgreSQL without touching the shared server: another session holds the
  // room row's lock, so the relay's append statement waits for it as it would behind a paused server.
  const locker = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    await locker`BEGIN`;
    await locker.unsafe(`SELECT 1 FROM "${schema}".rooms WHERE name = $1 FOR UPDATE`, [
      roomName({ appId: TEST_APP.id, kind: "user", subject: userId }),
    ]);
    await phone.send("while PostgreSQL is stalled");
    await waitFor(
      async () =>
        (
          await admin.unsafe(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%unnest%' AND query LIKE $1`,
            [`%"${schema}".rooms%`],
          )
        ).length > 0,
      { what: "the relay's append waits in PostgreSQL" },
    );
    expect(phone.messages().map((m) => m.status)).toEqual(["sent", "pending"]);
    await locker`COMMIT`;
  } finally {
    await locker.end();
  }
  await waitFor(() => phone.messages().every((m) => m.status === "sent"), { what: "acknowledged once committed" });
  expect(await storedMessageIds(userId)).toEqual(phone.messages().map((m) => m.id));
});

it("refuses to start, saying why, when PostgreSQL is not reachable", async () => {
  await expect(
    startRelay({ extraConfig: { storage: { kind: "postgres", url: "postgres://postgres@127.0.0.1:1/test", schema } } }),
  ).rejects.toThrow(/ECONNREFUSED|connect/);
});
