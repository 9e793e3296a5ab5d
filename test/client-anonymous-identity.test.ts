import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { listMessages, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { connectRaw, readRelayDoc, storedAnonymousToken, useClientFixture } from "./support/client.js";
import { TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("an anonymous user on the fly", () => {
  const fixture = useClientFixture();

  it("sends while the relay is down, delivers when it comes up, and keeps the thread across a restart", async () => {
    const relay = await fixture.startRelay();
    const url = relay.url;
    await relay.stop();
    const dir = mkdtempSync(join(tmpdir(), "parley-b1-"));
    const storage = directoryStorage(dir);
    const first = fixture.client({ relayUrl: url, storage });
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
    await relay.stop();
    const again = fixture.client({ relayUrl: url, storage: directoryStorage(dir) });
    await again.ready;
    expect(again.identity).toEqual(identity);
    expect(again.messages().map((m) => [m.text, m.status])).toEqual([
      ["hello from nowhere", "sent"],
      ["still offline", "sent"],
    ]);
    expect(again.messages()[1]?.metadata).toEqual({ page: "/pricing" });
  });

  it("gives a new client an empty thread of its own that cannot open the first client's room", async () => {
    const relay = await fixture.startRelay();
    const secondStorage = memoryStorage();
    const first = fixture.client({ storage: memoryStorage() });
    const second = fixture.client({ storage: secondStorage });
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
