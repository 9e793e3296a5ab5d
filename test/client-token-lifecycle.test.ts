import { memoryStorage, type ParleyError, TokenExpiredError, TokenInvalidError } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const WRONG_SECRET = "not-the-app-secret-but-long-enough-0123456789";

describe("token lifecycle", () => {
  const fixture = useClientFixture();
  const make = (onTokenExpired?: (userId: string) => Promise<string>) => {
    const client = fixture.client({
      storage: memoryStorage(),
      loginTimeoutMs: 1_000,
      ...(onTokenExpired === undefined ? {} : { onTokenExpired }),
    });
    return client;
  };

  it("asks for a fresh token before the current one expires and carries on without loss or duplicates", async () => {
    const relay = await fixture.startRelay();
    const requested: string[] = [];
    const client = make(async (userId) => {
      requested.push(userId);
      return signUserToken(userId, { expiresIn: "1h" });
    });
    expect(await client.login("b8-refresh", await signUserToken("b8-refresh", { expiresIn: 4 }))).toEqual({
      authenticated: true,
    });
    await client.send("before the refresh");
    const errors: ParleyError[] = [];
    client.on("error", (error) => errors.push(error));
    // The relay accepts a token until 30 s after its exp, so a call now can only be the early refresh.
    await waitFor(() => requested.length > 0, { what: "refresh requested", timeoutMs: 30_000 });
    expect(requested).toEqual(["b8-refresh"]);
    expect(errors).toEqual([]);
    await client.send("after the refresh");
    await client.flush({ timeoutMs: 20_000 });
    expect(client.identity).toEqual({ kind: "user", userId: "b8-refresh", authenticated: true });
    const onRelay = await readRelayDoc(relay, userRoom("b8-refresh"), await signUserToken("b8-refresh"));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["before the refresh", "after the refresh"]);
    expect(client.messages().map((m) => m.id)).toEqual(listMessages(onRelay).map((m) => m.id));
  });

  it("renews a token that expired while the relay was down before it reconnects", async () => {
    const relay = await fixture.startRelay();
    const url = relay.url;
    await relay.stop();
    const requested: string[] = [];
    const client = make(async (userId) => {
      requested.push(userId);
      return signUserToken(userId);
    });
    // Logged in while the relay is down, with a token that has expired by the time it is back.
    const expired = await signUserToken("b8-expired", { expiresIn: -120 });
    expect(await client.login("b8-expired", expired)).toEqual({ authenticated: false });
    await client.send("written with an expired token");
    await relay.restart();
    expect(relay.url).toBe(url);
    await waitFor(() => client.identity.kind === "user" && client.identity.authenticated, { what: "authenticated" });
    expect(requested.length).toBeGreaterThanOrEqual(1);
    expect(new Set(requested)).toEqual(new Set(["b8-expired"]));
    await client.flush({ timeoutMs: 20_000 });
    const onRelay = await readRelayDoc(relay, userRoom("b8-expired"), await signUserToken("b8-expired"));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["written with an expired token"]);
  });

  it("reconnects with a fresh token after the relay closes the connection at expiry", async () => {
    const relay = await fixture.startRelay({ extraConfig: { clockToleranceS: 0 } });
    let calls = 0;
    // The app's backend fails the early refresh, so the token really expires and the relay closes with 4402.
    const client = make(async (userId) => {
      calls += 1;
      if (calls === 1) throw new Error("backend briefly unavailable");
      return signUserToken(userId);
    });
    const errors: ParleyError[] = [];
    client.on("error", (error) => errors.push(error));
    const statuses: string[] = [];
    client.on("status", (status) => statuses.push(status));
    await client.login("b8-live-expiry", await signUserToken("b8-live-expiry", { expiresIn: 3 }));
    await client.send("before expiry");
    await waitFor(() => calls >= 2, { what: "refresh after the relay's expiry close", timeoutMs: 30_000 });
    await waitFor(() => client.status === "online", { what: "back online" });
    expect(errors.map((e) => e.code)).toEqual(["ERR_TOKEN_EXPIRED"]);
    expect(statuses).toContain("offline");
    await client.send("after expiry");
    await client.flush({ timeoutMs: 20_000 });
    const onRelay = await readRelayDoc(relay, userRoom("b8-live-expiry"), await signUserToken("b8-live-expiry"));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["before expiry", "after expiry"]);
    expect(client.messages().map((m) => m.id)).toEqual(listMessages(onRelay).map((m) => m.id));
  });

  it("gives typed errors for bad and expired tokens", async () => {
    await fixture.startRelay();
    const client = make();
    await client.ready;
    const forged = await signUserToken("b8-bad", { secret: WRONG_SECRET });
    await expect(client.login("b8-bad", forged)).rejects.toBeInstanceOf(TokenInvalidError);
    const expired = await signUserToken("b8-bad", { expiresIn: -120 });
    const error = await client.login("b8-bad", expired).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenExpiredError);
    expect((error as ParleyError).code).toBe("ERR_TOKEN_EXPIRED");
    expect(client.identity.kind).toBe("anonymous");
  });

  it("emits a typed error event when the app's fresh token is refused too", async () => {
    const relay = await fixture.startRelay();
    await relay.stop();
    const client = make(async (userId) => signUserToken(userId, { secret: WRONG_SECRET }));
    const errors: ParleyError[] = [];
    client.on("error", (error) => errors.push(error));
    expect(await client.login("b8-refused", await signUserToken("b8-refused", { expiresIn: -120 }))).toEqual({
      authenticated: false,
    });
    await relay.restart();
    await waitFor(() => errors.length > 0, { what: "error event" });
    expect(errors[0]).toBeInstanceOf(TokenInvalidError);
    expect(client.status).toBe("offline");
    expect(client.identity).toEqual({ kind: "user", userId: "b8-refused", authenticated: false });
  });
});
