import { clientsOf, listMessages, messagesOf, roomName, type UserMessageRecord } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

function message(id: string, client: string, text: string): UserMessageRecord {
  return { id, role: "user", client, text, ts: Date.now() };
}

describe("relay sync with stock y-websocket providers", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay.stop();
  });

  it("answers GET /healthz", async () => {
    const response = await fetch(`${relay.httpUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("two clients of one user see each other's messages live", async () => {
    const token = await signUserToken("alice");
    const a = openProvider(relay, userRoom("alice"), token);
    const b = openProvider(relay, userRoom("alice"), token);
    try {
      await waitFor(() => a.provider.synced && b.provider.synced, { what: "both synced" });
      messagesOf(a.doc).push([message("from-a-0001", a.clientId, "hello from a")]);
      await waitFor(() => listMessages(b.doc).some((m) => m.id === "from-a-0001"), { what: "b sees a's message" });
      messagesOf(b.doc).push([message("from-b-0001", b.clientId, "hello from b")]);
      await waitFor(() => listMessages(a.doc).some((m) => m.id === "from-b-0001"), { what: "a sees b's message" });
      expect(listMessages(a.doc).map((m) => m.text)).toEqual(listMessages(b.doc).map((m) => m.text));
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it("a client that connects later receives the history", async () => {
    const token = await signUserToken("carol");
    const a = openProvider(relay, userRoom("carol"), token);
    try {
      await waitFor(() => a.provider.synced);
      messagesOf(a.doc).push([message("carol-0001", a.clientId, "one"), message("carol-0002", a.clientId, "two")]);
      const late = openProvider(relay, userRoom("carol"), token);
      try {
        await waitFor(() => listMessages(late.doc).length === 2, { what: "history reaches the late client" });
        expect(listMessages(late.doc).map((m) => m.text)).toEqual(["one", "two"]);
      } finally {
        late.destroy();
      }
    } finally {
      a.destroy();
    }
  });

  it("two users never see each other's messages", async () => {
    const alice = openProvider(relay, userRoom("dora"), await signUserToken("dora"));
    const bob = openProvider(relay, userRoom("eric"), await signUserToken("eric"));
    try {
      await waitFor(() => alice.provider.synced && bob.provider.synced);
      messagesOf(alice.doc).push([message("dora-secret", alice.clientId, "for dora only")]);
      messagesOf(bob.doc).push([message("eric-marker", bob.clientId, "eric writes")]);
      // A third client of eric's syncs after both writes: it has eric's message and never dora's.
      const bob2 = openProvider(relay, userRoom("eric"), await signUserToken("eric"));
      try {
        await waitFor(() => listMessages(bob2.doc).some((m) => m.id === "eric-marker"));
        await waitFor(() => listMessages(bob.doc).length === 1);
        for (const doc of [bob.doc, bob2.doc]) {
          expect(listMessages(doc).map((m) => m.id)).toEqual(["eric-marker"]);
        }
        expect(listMessages(alice.doc).map((m) => m.id)).toEqual(["dora-secret"]);
      } finally {
        bob2.destroy();
      }
    } finally {
      alice.destroy();
      bob.destroy();
    }
  });

  it("stamps a relay-attested record for each client", async () => {
    const token = await signUserToken("fred");
    const info = Buffer.from(JSON.stringify({ platform: "web", appVersion: "1.2.3", sdkVersion: "0.1.0" })).toString(
      "base64url",
    );
    const a = openProvider(relay, userRoom("fred"), token, { params: { info } });
    try {
      await waitFor(() => clientsOf(a.doc).get(a.clientId), { what: "client record" });
      expect(clientsOf(a.doc).get(a.clientId)).toMatchObject({
        id: a.clientId,
        platform: "web",
        appVersion: "1.2.3",
        sdkVersion: "0.1.0",
        active: true,
      });
    } finally {
      a.destroy();
    }
  });
});
