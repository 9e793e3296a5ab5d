/**
 * Logout while the relay is unreachable: the client keeps a durable logout notice and delivers it when the
 * relay is back (also from a restarted client), so the client's record ends up inactive and an anonymous
 * user's secret revoked.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { anonymousIdFromSecret, clientsOf, parseAnonymousToken, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { connectRaw, readRelayDoc, storedAnonymousToken, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const NOTICES_KEY = `logout-notices/${TEST_APP.id}`;

describe("logout while the relay is unreachable", () => {
  const fixture = useClientFixture();

  it("marks the client inactive in the user's client list once the relay is back", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage });
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
        clientsOf(await readRelayDoc(relay, room, await signUserToken(userId))).get(clientId)?.active === false,
      { what: "the relay marked the client inactive" },
    );
    await waitFor(async () => (await storage.get(NOTICES_KEY)) === undefined, { what: "the notice is gone" });
  });

  it("drops the notice when the same user logs back in before the relay heard of the logout", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage, loginTimeoutMs: 500 });
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
    const relay = await fixture.startRelay();
    const dir = mkdtempSync(join(tmpdir(), "parley-logout-notice-"));
    const first = fixture.client({ storage: directoryStorage(dir) });
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

    await relay.restart();
    // Nobody told the relay yet: the old anonymous room still opens.
    expect((await connectRaw(relay, oldRoom, oldToken)).received).toBe(true);

    const restarted = fixture.client({ storage: directoryStorage(dir) });
    await restarted.ready;
    await waitFor(async () => (await connectRaw(relay, oldRoom, oldToken)).closeCode === 4403, {
      what: "the anonymous room is revoked",
    });
    expect(restarted.messages()).toEqual([]);
  });
});
