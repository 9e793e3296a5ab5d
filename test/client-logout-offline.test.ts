/**
 * Logout while the relay is unreachable: the client keeps a durable logout notice and delivers it when the
 * relay is back (also from a restarted client), so the client's record ends up inactive and an anonymous
 * user's secret revoked.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { anonymousIdFromSecret, clientsOf, parseAnonymousToken, roomName } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectRaw, readRelayDoc, storedAnonymousToken } from "./support/client.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const NOTICES_KEY = `logout-notices/${TEST_APP.id}`;

describe("logout while the relay is unreachable", () => {
  let relay: RelayHandle | undefined;
  const clients: ParleyClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.destroy().catch(() => {});
    await relay?.stop();
    relay = undefined;
  });

  it("marks the client inactive in the user's client list once the relay is back", async () => {
    relay = await startRelay();
    const storage = memoryStorage();
    const client = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage, WebSocket });
    clients.push(client);
    const userId = "offline-logout-user";
    await client.login(userId, await signUserToken(userId));
    await client.send("a secret the notice must not carry");
    await client.flush();
    const clientId = client.clientId;
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
    const before = await readRelayDoc(relay, room, await signUserToken(userId));
    expect(clientsOf(before).get(clientId)?.active).toBe(true);

    await relay.stop();
    await waitFor(() => client.status === "offline", { what: "the client notices the relay is gone" });
    await client.logout();
    expect(client.identity.kind).toBe("anonymous");
    const notices = JSON.stringify(await storage.get(NOTICES_KEY));
    expect(notices).toContain(room);
    expect(notices).not.toContain("a secret the notice must not carry");

    await relay.restart();
    await waitFor(
      async () =>
        clientsOf(await readRelayDoc(relay as RelayHandle, room, await signUserToken(userId))).get(clientId)?.active ===
        false,
      { what: "the relay marked the client inactive" },
    );
    await waitFor(async () => (await storage.get(NOTICES_KEY)) === undefined, { what: "the notice is gone" });
  });

  it("drops the notice when the same user logs back in before the relay heard of the logout", async () => {
    relay = await startRelay();
    const storage = memoryStorage();
    const client = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage, WebSocket, loginTimeoutMs: 500 });
    clients.push(client);
    const userId = "back-again-user";
    await client.login(userId, await signUserToken(userId));
    await relay.stop();
    await waitFor(() => client.status === "offline", { what: "offline" });
    await client.logout();
    expect(JSON.stringify(await storage.get(NOTICES_KEY))).toContain(`${TEST_APP.id}/u/`);

    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: false });
    expect(await storage.get(NOTICES_KEY)).toBeUndefined();
    await relay.restart();
    await waitFor(() => client.identity.kind === "user" && client.identity.authenticated, { what: "logged in" });
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
    const stored = await readRelayDoc(relay, room, await signUserToken(userId));
    expect(clientsOf(stored).get(client.clientId)?.active).toBe(true);
  });

  it("revokes an anonymous user logged out offline, delivered by the restarted client", async () => {
    relay = await startRelay();
    const dir = mkdtempSync(join(tmpdir(), "parley-logout-notice-"));
    const first = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage: directoryStorage(dir), WebSocket });
    clients.push(first);
    await first.ready;
    await first.send("anonymous words");
    await first.flush();
    const oldToken = await storedAnonymousToken(directoryStorage(dir));
    const oldRoom = roomName({
      appId: TEST_APP.id,
      kind: "anonymous",
      subject: anonymousIdFromSecret(parseAnonymousToken(oldToken) ?? ""),
    });

    await relay.stop();
    await waitFor(() => first.status === "offline", { what: "offline" });
    await first.logout();
    await first.destroy();
    clients.splice(clients.indexOf(first), 1);

    await relay.restart();
    // Nobody told the relay yet: the old anonymous room still opens.
    expect((await connectRaw(relay, oldRoom, oldToken)).received).toBe(true);

    const restarted = createClient({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      storage: directoryStorage(dir),
      WebSocket,
    });
    clients.push(restarted);
    await restarted.ready;
    await waitFor(async () => (await connectRaw(relay as RelayHandle, oldRoom, oldToken)).closeCode === 4403, {
      what: "the anonymous room is revoked",
    });
    expect(restarted.messages()).toEqual([]);
  });
});
