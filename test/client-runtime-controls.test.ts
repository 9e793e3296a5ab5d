/**
 * The controls an app needs around the conversation: `connect()` / `disconnect()` at runtime (a
 * backgrounded app), an idempotent `destroy()`, `markRead()` resolving once stored, no placeholder
 * identity before `ready`, and `once`.
 */
import { ClientNotReadyError, type ConnectionStatus, memoryStorage } from "@parley/client";
import { readPositions, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { api } from "./business-support.js";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

describe("runtime controls of a client", () => {
  const fixture = useClientFixture();

  it("disconnect() stays offline with writes pending; connect() reconnects and delivers both ways", async () => {
    await fixture.startRelay();
    const userId = "controls-background";
    const phone = fixture.client();
    const laptop = fixture.client();
    await phone.login(userId, await signUserToken(userId));
    await laptop.login(userId, await signUserToken(userId));
    const statuses: ConnectionStatus[] = [];
    phone.on("status", (status) => statuses.push(status));

    phone.disconnect();
    phone.disconnect(); // idempotent
    expect(phone.status).toBe("offline");
    expect(statuses).toEqual(["offline"]);
    const written = await phone.send("written in the background");
    expect(written.status).toBe("pending");
    await laptop.send("sent while the phone is in the background");
    await laptop.flush();
    // The relay stored the laptop's message; a connected phone would be sent it.
    expect(phone.messages().map((m) => m.text)).toEqual(["written in the background"]);
    expect(phone.status).toBe("offline");

    phone.connect();
    phone.connect(); // idempotent
    await waitFor(() => phone.status === "online", { what: "the phone reconnected" });
    await waitFor(() => phone.messages().length === 2 && phone.messages().every((m) => m.status === "sent"), {
      what: "both messages on the phone, stored",
    });
    await waitFor(() => laptop.messages().length === 2, { what: "the background message reached the laptop" });
    expect(statuses.at(-1)).toBe("online");
  });

  it("logs in while disconnected without waiting for the relay, and authenticates on connect()", async () => {
    await fixture.startRelay();
    const client = fixture.client({ connect: false, loginTimeoutMs: 60_000 });
    await client.ready;
    const userId = "controls-login-offline";
    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: false });
    await client.send("before connecting");
    const authenticated = new Promise((resolve) =>
      client.on("identity", (identity) => {
        if (identity.kind === "user" && identity.authenticated) resolve(identity);
      }),
    );
    client.connect();
    expect(await authenticated).toEqual({ kind: "user", userId, authenticated: true });
    await client.flush();
    const onRelay = await readRelayDoc(fixture.relay, userRoom(userId), await signUserToken(userId));
    expect(onRelay.getArray("messages").length).toBe(1);
  });

  it("resolves markRead() once the read position is stored, and the relay gets it", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const userId = "controls-mark-read";
    const client = fixture.client({ storage });
    await client.login(userId, await signUserToken(userId));
    await api(relay, "POST", `users/${userId}/messages`, {
      body: { text: "hello from support", author: { name: "Support" } },
    });
    await waitFor(() => client.unreadCount() === 1, { what: "the business message arrived" });
    const marked = client.markRead();
    expect(marked).toBeInstanceOf(Promise);
    await marked;
    expect(client.unreadCount()).toBe(0);
    const newest = client.messages().at(-1)?.ts ?? 0;
    await client.destroy();
    // The stored copy holds the read position (a new instance on the store reads it offline).
    const again = fixture.client({ storage, connect: false });
    await again.ready;
    expect(again.readBy().user).toBe(newest);
    await waitFor(
      async () =>
        readPositions(await readRelayDoc(relay, userRoom(userId), await signUserToken(userId))).user === newest,
      { what: "the relay stored the read position" },
    );
  });

  it("has no identity before ready, announces it, and calls once-listeners once", async () => {
    await fixture.startRelay();
    const client = fixture.client();
    expect(() => client.identity).toThrow(ClientNotReadyError);
    expect(() => client.clientId).toThrow(ClientNotReadyError);
    const announced = new Promise((resolve) => client.once("identity", resolve));
    await client.ready;
    expect(await announced).toEqual(client.identity);
    expect(client.identity.kind).toBe("anonymous");

    const seen: number[] = [];
    client.once("messages", (messages) => seen.push(messages.length));
    const cancelled: number[] = [];
    const cancel = client.once("messages", (messages) => cancelled.push(messages.length));
    cancel();
    await client.send("one");
    await client.send("two");
    await client.flush();
    expect(seen).toEqual([1]);
    expect(cancelled).toEqual([]);
  });

  it("destroy() is idempotent and ends the connection", async () => {
    await fixture.startRelay();
    const client = fixture.client();
    await client.ready;
    await waitFor(() => client.status === "online", { what: "online" });
    const first = client.destroy();
    const second = client.destroy();
    expect(second).toBe(first);
    await first;
    await expect(client.destroy()).resolves.toBeUndefined();
    expect(client.status).toBe("offline");
    expect(() => client.messages()).toThrow();
    expect(() => client.connect()).toThrow();
  });
});
