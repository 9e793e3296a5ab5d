import { memoryStorage, type ParleyClient, TokenInvalidError } from "@parley/client";
import { anonymousIdFromSecret, listMessages, parseAnonymousToken, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { connectRaw, readRelayDoc, storedAnonymousToken, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const texts = (client: ParleyClient) => client.messages().map((m) => m.text);
const ids = (client: ParleyClient) => client.messages().map((m) => m.id);

describe("login from an anonymous client keeps its history", () => {
  const fixture = useClientFixture();
  const make = (storage = memoryStorage(), extra: { loginTimeoutMs?: number } = {}) => {
    const client = fixture.client({ storage, ...extra });
    return client;
  };

  it("merges anonymous history and profile into a userId that already has history, identically everywhere", async () => {
    const relay = await fixture.startRelay();
    const userId = "b4-user@example.com";
    const existing = make();
    await existing.ready;
    expect(await existing.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    await existing.send("from the phone, first");
    await existing.send("from the phone, second");
    await existing.flush();

    const anonymousStorage = memoryStorage();
    const anonymous = make(anonymousStorage);
    await anonymous.ready;
    await anonymous.send("before login, first");
    await anonymous.setProfile({ givenName: "Ada", properties: { plan: "pro" } });
    await anonymous.send("before login, second");
    await anonymous.flush();
    const anonymousToken = await storedAnonymousToken(anonymousStorage);

    expect(await anonymous.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    expect(anonymous.identity).toEqual({ kind: "user", userId, authenticated: true });
    const expected = [
      "before login, first",
      "before login, second",
      "from the phone, first",
      "from the phone, second",
    ].sort();
    await waitFor(() => existing.messages().length === 4 && anonymous.messages().length === 4, { what: "merge" });
    expect([...texts(anonymous)].sort()).toEqual(expected);
    expect(ids(existing)).toEqual(ids(anonymous));
    expect(new Set(ids(anonymous)).size).toBe(4);
    await waitFor(() => existing.profile().givenName === "Ada", { what: "profile merged" });
    expect(existing.profile().properties).toEqual({ plan: "pro" });
    // The anonymous thread is gone from the store once the relay has merged it.
    const userRoom = roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
    expect(await anonymousStorage.listDocs()).toEqual([userRoom]);

    // Repeating the login, and replaying the same anonymous merge from another client, change nothing.
    expect(await anonymous.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    const replay = await connectRaw(relay, userRoom, await signUserToken(userId), { merge: anonymousToken });
    expect(replay.received).toBe(true);
    await anonymous.send("after login");
    await waitFor(() => existing.messages().length === 5, { what: "live after login" });
    expect(ids(existing)).toEqual(ids(anonymous));
    const onRelay = await readRelayDoc(relay, userRoom, await signUserToken(userId));
    expect(listMessages(onRelay).map((m) => m.id)).toEqual(ids(anonymous));
    // The anonymous room is closed for good: its secret was revoked by the merge.
    const anonymousSecret = parseAnonymousToken(anonymousToken) ?? "";
    const anonymousIdentityRoom = roomName({
      appId: TEST_APP.id,
      kind: "anonymous",
      subject: anonymousIdFromSecret(anonymousSecret),
    });
    expect((await connectRaw(relay, anonymousIdentityRoom, anonymousToken)).closeCode).toBe(4403);
  });

  it("keeps the merged thread usable while offline and completes the login when the relay is reachable", async () => {
    const relay = await fixture.startRelay();
    const userId = "b4-offline";
    const phone = make();
    await phone.login(userId, await signUserToken(userId));
    await phone.send("already there");
    await phone.flush();
    await relay.stop();

    const laptop = make(memoryStorage(), { loginTimeoutMs: 4_000 });
    await laptop.ready;
    await laptop.send("anonymous and offline");
    const login = laptop.login(userId, await signUserToken(userId));
    let loginSettled = false;
    void login.finally(() => {
      loginSettled = true;
    });
    // The merged thread is usable while the login still waits for the relay.
    await waitFor(() => laptop.identity.kind === "user", { what: "switched to the user locally" });
    expect(texts(laptop)).toEqual(["anonymous and offline"]);
    await laptop.send("logged in, still offline");
    expect(loginSettled).toBe(false);
    expect(texts(laptop)).toEqual(["anonymous and offline", "logged in, still offline"]);
    expect(await login).toEqual({ authenticated: false });
    expect(laptop.identity).toEqual({ kind: "user", userId, authenticated: false });

    await relay.restart();
    await waitFor(() => laptop.identity.kind === "user" && laptop.identity.authenticated, { what: "authenticated" });
    await waitFor(() => phone.messages().length === 3 && laptop.messages().length === 3, { what: "converged" });
    expect(ids(phone)).toEqual(ids(laptop));
    await waitFor(() => laptop.messages().every((m) => m.status === "sent"), { what: "all sent" });
  });

  it("rejects a refused JWT with a typed error and leaves the anonymous thread intact", async () => {
    await fixture.startRelay();
    const client = make();
    await client.ready;
    await client.send("keep me");
    await client.flush();
    const before = client.identity;
    const forged = await signUserToken("b4-forged", { secret: "not-the-app-secret-0123456789-abcdefghijkl" });
    await expect(client.login("b4-forged", forged)).rejects.toBeInstanceOf(TokenInvalidError);
    expect(client.identity).toEqual(before);
    expect(texts(client)).toEqual(["keep me"]);
    await waitFor(() => client.status === "online", { what: "back online as anonymous" });
    await client.send("and carry on");
    await client.flush();
    expect(client.messages().map((m) => m.status)).toEqual(["sent", "sent"]);
  });
});
