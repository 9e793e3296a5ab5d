import { memoryStorage, RelayUnavailableError, TokenInvalidError } from "@parley/client";
import { clientsOf, listMessages, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const room = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

describe("switching users on one client", () => {
  const fixture = useClientFixture();

  it("removes A's data, loads B's thread, and never lets a message cross between them on any client", async () => {
    const relay = await fixture.startRelay();
    const make = (storage = memoryStorage()) => {
      const client = fixture.client({ storage });
      return client;
    };
    const sharedStorage = memoryStorage();
    const shared = make(sharedStorage);
    const aDevice = make();
    const bDevice = make();
    await shared.login("alice", await signUserToken("alice"));
    await aDevice.login("alice", await signUserToken("alice"));
    await bDevice.login("bob", await signUserToken("bob"));
    await shared.send("alice on the shared device");
    await aDevice.send("alice on her phone");
    await bDevice.send("bob on his phone");
    await Promise.all([shared.flush(), aDevice.flush(), bDevice.flush()]);
    await waitFor(() => shared.messages().length === 2, { what: "alice's thread" });

    const seenByBob = new Set<string>();
    const seenByAlice = new Set<string>();
    bDevice.on("messages", (messages) => {
      for (const m of messages) seenByBob.add(m.text);
    });
    aDevice.on("messages", (messages) => {
      for (const m of messages) seenByAlice.add(m.text);
    });
    const seenOnShared: string[][] = [];
    shared.on("messages", (messages) => seenOnShared.push(messages.map((m) => m.text)));

    expect(await shared.login("bob", await signUserToken("bob"))).toEqual({ authenticated: true });
    expect(shared.identity).toEqual({ kind: "user", userId: "bob", authenticated: true });
    expect(shared.messages().map((m) => m.text)).toEqual(["bob on his phone"]);
    expect(await sharedStorage.listDocs()).toEqual([room("bob")]);
    // While switching, the shared device never showed a mix of both threads.
    for (const view of seenOnShared) {
      const hasAlice = view.some((t) => t.startsWith("alice"));
      const hasBob = view.some((t) => t.startsWith("bob"));
      expect(hasAlice && hasBob).toBe(false);
    }

    await shared.send("bob on the shared device");
    await waitFor(() => bDevice.messages().length === 2, { what: "bob's devices in sync" });
    await aDevice.send("alice again");
    await shared.flush();
    await aDevice.flush();

    // And back to alice: her thread, none of bob's.
    expect(await shared.login("alice", await signUserToken("alice"))).toEqual({ authenticated: true });
    await waitFor(() => shared.messages().length === 3, { what: "alice's thread again" });
    expect(shared.messages().every((m) => m.text.startsWith("alice"))).toBe(true);
    expect(await sharedStorage.listDocs()).toEqual([room("alice")]);

    expect([...seenByBob].every((t) => t.startsWith("bob"))).toBe(true);
    expect([...seenByAlice].every((t) => t.startsWith("alice"))).toBe(true);
    const aliceOnRelay = await readRelayDoc(relay, room("alice"), await signUserToken("alice"));
    const bobOnRelay = await readRelayDoc(relay, room("bob"), await signUserToken("bob"));
    expect(
      listMessages(aliceOnRelay)
        .map((m) => m.text)
        .sort(),
    ).toEqual(["alice again", "alice on her phone", "alice on the shared device"].sort());
    expect(
      listMessages(bobOnRelay)
        .map((m) => m.text)
        .sort(),
    ).toEqual(["bob on his phone", "bob on the shared device"].sort());
  });

  it("draws a new client id for the new user, so the business cannot link the two users of one client", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage });
    await client.login("gina", await signUserToken("gina"));
    await client.send("gina's message");
    await client.flush();
    const ginasClientId = client.clientId;
    expect(await client.login("hank", await signUserToken("hank"))).toEqual({ authenticated: true });
    const hanksClientId = client.clientId;
    expect(hanksClientId).not.toBe(ginasClientId);
    await client.send("hank's message");
    await client.flush();
    // Neither user's client list on the relay names the other's client id (not even the switch's probe).
    const gina = await readRelayDoc(relay, room("gina"), await signUserToken("gina"));
    const hank = await readRelayDoc(relay, room("hank"), await signUserToken("hank"));
    expect([...clientsOf(gina).keys()]).toEqual([ginasClientId]);
    expect([...clientsOf(hank).keys()]).toEqual([hanksClientId]);
    // A client restarted on the same store keeps the new id.
    await client.destroy();
    const again = fixture.client({ storage });
    await again.ready;
    expect(again.clientId).toBe(hanksClientId);
  });

  it("keeps the client id across a switch when the app opts in with stableDeviceId", async () => {
    await fixture.startRelay();
    const client = fixture.client({ storage: memoryStorage(), stableDeviceId: true });
    await client.login("ivan", await signUserToken("ivan"));
    const clientId = client.clientId;
    expect(await client.login("judy", await signUserToken("judy"))).toEqual({ authenticated: true });
    expect(client.clientId).toBe(clientId);
  });

  it("rejects a refused token for the new user without touching the current one", async () => {
    await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage });
    await client.login("carol", await signUserToken("carol"));
    await client.send("carol's message");
    await client.flush();
    const forged = await signUserToken("dave", { secret: "a-secret-the-relay-does-not-know-0123456789" });
    await expect(client.login("dave", forged)).rejects.toBeInstanceOf(TokenInvalidError);
    expect(client.identity).toEqual({ kind: "user", userId: "carol", authenticated: true });
    expect(client.messages().map((m) => m.text)).toEqual(["carol's message"]);
    expect(await storage.listDocs()).toEqual([room("carol")]);
    await client.send("still carol");
    await client.flush();
  });

  it("refuses to switch while the relay cannot check the new token, and keeps the current user", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage, loginTimeoutMs: 1_000 });
    await client.login("erin", await signUserToken("erin"));
    await client.send("erin's message");
    await client.flush();
    await relay.stop();
    await expect(client.login("frank", await signUserToken("frank"))).rejects.toBeInstanceOf(RelayUnavailableError);
    expect(client.identity).toMatchObject({ kind: "user", userId: "erin" });
    expect(client.messages().map((m) => m.text)).toEqual(["erin's message"]);
    expect(await storage.listDocs()).toEqual([room("erin")]);
    await relay.restart();
    await waitFor(() => client.status === "online", { what: "erin back online" });
  });
});
