import { memoryStorage, UnsentChangesError } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

describe("nothing lost in transit", () => {
  const fixture = useClientFixture();
  const make = (storage = memoryStorage()) => {
    const client = fixture.client({ storage, flushTimeoutMs: 1_500 });
    return client;
  };

  it("delivers messages written offline when the client reconnects", async () => {
    const relay = await fixture.startRelay();
    const writer = make();
    const reader = make();
    await writer.login("b7-deliver", await signUserToken("b7-deliver"));
    await reader.login("b7-deliver", await signUserToken("b7-deliver"));
    await relay.stop();
    await writer.send("written offline 1");
    await writer.send("written offline 2");
    expect(writer.messages().map((m) => m.status)).toEqual(["pending", "pending"]);
    await relay.restart();
    await waitFor(() => reader.messages().length === 2, { what: "delivered to the other client" });
    await waitFor(() => writer.messages().every((m) => m.status === "sent"), { what: "acknowledged" });
    expect(reader.messages().map((m) => m.id)).toEqual(writer.messages().map((m) => m.id));
  });

  it("keeps every message the relay acknowledged when the relay is killed", async () => {
    const relay = await fixture.startRelay();
    const writer = make();
    await writer.login("b7-crash", await signUserToken("b7-crash"));
    for (let i = 0; i < 20; i++) await writer.send(`acknowledged ${i}`);
    await waitFor(() => writer.messages().every((m) => m.status === "sent"), { what: "all acknowledged" });
    const acknowledged = writer.messages().map((m) => m.id);
    await relay.kill();
    await relay.restart();
    const reader = make();
    await reader.login("b7-crash", await signUserToken("b7-crash"));
    expect(reader.messages().map((m) => m.id)).toEqual(acknowledged);
  });

  it("flushes unsent messages before logout", async () => {
    const relay = await fixture.startRelay();
    const client = make();
    await client.login("b7-flush", await signUserToken("b7-flush"));
    await client.send("last words before logout");
    await client.logout();
    const onRelay = await readRelayDoc(relay, userRoom("b7-flush"), await signUserToken("b7-flush"));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["last words before logout"]);
  });

  it("refuses logout and switch with a typed error naming unsent messages while the relay is unreachable", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = make(storage);
    await client.login("b7-unsent", await signUserToken("b7-unsent"));
    await client.send("stored already");
    await client.flush();
    await relay.stop();
    const pending = await client.send("not stored yet");

    const logoutError = await client.logout().catch((error: unknown) => error);
    expect(logoutError).toBeInstanceOf(UnsentChangesError);
    expect((logoutError as UnsentChangesError).messageIds).toEqual([pending.id]);
    const switchError = await client
      .login("b7-other", await signUserToken("b7-other"))
      .catch((error: unknown) => error);
    expect(switchError).toBeInstanceOf(UnsentChangesError);
    expect((switchError as UnsentChangesError).messageIds).toEqual([pending.id]);
    // Nothing was lost or switched.
    expect(client.identity).toMatchObject({ kind: "user", userId: "b7-unsent" });
    expect(client.messages().map((m) => m.text)).toEqual(["stored already", "not stored yet"]);
    expect(await storage.listDocs()).toEqual([userRoom("b7-unsent")]);

    // Once the relay is back the same logout succeeds and the message reached it.
    await relay.restart();
    await waitFor(() => client.status === "online", { what: "reconnected" });
    await client.logout();
    const onRelay = await readRelayDoc(relay, userRoom("b7-unsent"), await signUserToken("b7-unsent"));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["stored already", "not stored yet"]);
  });

  it("discards unsent messages only when the caller says so", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = make(storage);
    await client.login("b7-discard", await signUserToken("b7-discard"));
    await relay.stop();
    await client.send("will be discarded");
    await client.logout({ discardUnsent: true });
    expect(client.identity.kind).toBe("anonymous");
    expect(client.messages()).toEqual([]);
    expect(await storage.listDocs()).not.toContain(userRoom("b7-discard"));
    await relay.restart();
    const onRelay = await readRelayDoc(relay, userRoom("b7-discard"), await signUserToken("b7-discard"));
    expect(listMessages(onRelay)).toEqual([]);
  });
});
