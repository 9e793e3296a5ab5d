import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { listMessages, roomName } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectRaw, readRelayDoc, storedAnonymousToken } from "./support/client.js";
import { type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("an anonymous user on the fly", () => {
  let relay: RelayHandle | undefined;
  const clients: ParleyClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.destroy().catch(() => {});
    await relay?.stop();
    relay = undefined;
  });

  it("sends while the relay is down, delivers when it comes up, and keeps the thread across a restart", async () => {
    relay = await startRelay();
    const url = relay.url;
    await relay.stop();
    const dir = mkdtempSync(join(tmpdir(), "parley-b1-"));
    const storage = directoryStorage(dir);
    const first = createClient({ appId: TEST_APP.id, relayUrl: url, storage, WebSocket });
    clients.push(first);
    await first.ready;
    expect(first.identity.kind).toBe("anonymous");
    expect(first.messages()).toEqual([]);
    await first.send("hello from nowhere");
    await first.send("still offline", { metadata: { page: "/pricing" } });
    expect(first.messages().map((m) => [m.text, m.status, m.mine])).toEqual([
      ["hello from nowhere", "pending", true],
      ["still offline", "pending", true],
    ]);

    await relay.restart();
    await waitFor(() => first.messages().every((m) => m.status === "sent"), { what: "messages sent" });

    // The business side reads them from the relay's room.
    const identity = first.identity;
    if (identity.kind !== "anonymous") throw new Error("expected anonymous");
    const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: identity.anonymousId });
    const stored = await readRelayDoc(relay, room, await storedAnonymousToken(storage));
    expect(listMessages(stored).map((m) => m.text)).toEqual(["hello from nowhere", "still offline"]);

    // A restart of the same client (same directory) shows the same thread, offline.
    await first.destroy();
    clients.pop();
    await relay.stop();
    const again = createClient({ appId: TEST_APP.id, relayUrl: url, storage: directoryStorage(dir), WebSocket });
    clients.push(again);
    await again.ready;
    expect(again.identity).toEqual(identity);
    expect(again.messages().map((m) => [m.text, m.status])).toEqual([
      ["hello from nowhere", "sent"],
      ["still offline", "sent"],
    ]);
    expect(again.messages()[1]?.metadata).toEqual({ page: "/pricing" });
  });

  it("gives a new client an empty thread of its own that cannot open the first client's room", async () => {
    relay = await startRelay();
    const secondStorage = memoryStorage();
    const first = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage: memoryStorage(), WebSocket });
    const second = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage: secondStorage, WebSocket });
    clients.push(first, second);
    await Promise.all([first.ready, second.ready]);
    await first.send("mine only");
    await first.flush();
    expect(second.identity).not.toEqual(first.identity);
    expect(second.clientId).not.toBe(first.clientId);
    expect(second.messages()).toEqual([]);
    const firstIdentity = first.identity;
    if (firstIdentity.kind !== "anonymous") throw new Error("expected anonymous");
    const firstRoom = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: firstIdentity.anonymousId });
    // The second client's credentials (its own anonymous token) do not open the first client's room.
    const attempt = await connectRaw(relay, firstRoom, await storedAnonymousToken(secondStorage));
    expect(attempt.closeCode).toBe(4403);
    expect(attempt.received).toBe(false);
    await waitFor(() => second.status === "online", { what: "second online" });
    expect(second.messages()).toEqual([]);
  });
});
