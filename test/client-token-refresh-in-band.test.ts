/**
 * The client's scheduled token refresh goes in band (the `refresh` frame): a long-lived connection gets its
 * new token without a reconnect, and outlives the first token's expiry on the same socket.
 */
import { memoryStorage, type WebSocketConstructor } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("token refresh in band", () => {
  const fixture = useClientFixture();

  it("refreshes the token on the open connection: no new WebSocket, and the connection survives the first token's exp", async () => {
    // Exact expiry on the relay: the first token ends its connection the moment it expires unless replaced.
    const relay = await fixture.startRelay({ extraConfig: { clockToleranceS: 0 } });
    let opened = 0;
    const CountingWebSocket = class extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        opened += 1;
      }
    } as unknown as WebSocketConstructor;
    const requested: string[] = [];
    const client = fixture.client({
      storage: memoryStorage(),
      WebSocket: CountingWebSocket,
      onTokenExpired: async (userId) => {
        requested.push(userId);
        return signUserToken(userId, { expiresIn: "1h" });
      },
    });
    const userId = "in-band-refresh";
    const first = await signUserToken(userId, { expiresIn: 4 });
    const firstExpiryMs = (decodeJwt(first).exp ?? 0) * 1000;
    expect(await client.login(userId, first)).toEqual({ authenticated: true });
    await waitFor(() => client.status === "online", { what: "online" });
    const socketsAfterLogin = opened;
    const statuses: string[] = [];
    client.on("status", (status) => statuses.push(status));

    await waitFor(() => requested.length > 0, { what: "the scheduled refresh", timeoutMs: 10_000 });
    // Past the first token's exp (plus a second), the same socket is still online.
    await waitFor(() => Date.now() > firstExpiryMs + 1_000, { what: "the first token's exp", timeoutMs: 10_000 });
    await client.send("after the first token expired");
    await client.flush({ timeoutMs: 5_000 });

    expect(opened).toBe(socketsAfterLogin);
    expect(statuses).toEqual([]);
    expect(client.status).toBe("online");
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
    const onRelay = await readRelayDoc(relay, room, await signUserToken(userId));
    expect(listMessages(onRelay).map((m) => m.text)).toEqual(["after the first token expired"]);
  });
});
