/**
 * A logout counts as delivered only when the relay acknowledges it (close 1000 `logged-out`, sent once the
 * revocation is durable). A relay SIGKILLed right after the `logout` frame leaves the client without that
 * ack: the client keeps its durable logout notice, re-sends it once the relay is back, and the old
 * anonymous secret is refused afterwards.
 */
import { mkdtempSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { directoryStorage } from "@parley/client/node";
import { anonymousIdFromSecret, createSecret, MessageType, parseAnonymousToken, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { storedAnonymousToken, useClientFixture } from "./support/client.js";
import { connectRaw, type RelayHandle, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const NOTICES_KEY = `logout-notices/${TEST_APP.id}`;

/**
 * A WebSocket proxy in front of `relay` (credentials pass through as subprotocols). While armed, the first
 * `logout` frame from a client goes to the relay, the relay is SIGKILLed at once and nothing the relay
 * might still answer reaches the client: the client sees the socket die instead of an ack.
 */
async function startLogoutKillingProxy(relay: RelayHandle) {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (offered) => [...offered][0] ?? false,
  });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const port = (server.address() as { port: number }).port;
  let armed = false;
  let logoutFrames = 0;
  server.on("connection", (downstream: WebSocket, request: IncomingMessage) => {
    const protocols = String(request.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "");
    const upstream = new WebSocket(`ws://127.0.0.1:${relay.port}${request.url ?? ""}`, protocols);
    let cutOff = false;
    const early: Buffer[] = [];
    downstream.on("error", () => {});
    upstream.on("error", () => {});
    upstream.on("open", () => {
      for (const frame of early.splice(0)) upstream.send(frame);
    });
    upstream.on("message", (data: Buffer) => {
      if (!cutOff && downstream.readyState === WebSocket.OPEN) downstream.send(data);
    });
    upstream.on("close", (code, reason) => {
      if (cutOff || downstream.readyState !== WebSocket.OPEN) return;
      // 1005/1006 (no close frame) cannot be sent: the client sees its socket die the same way.
      if (code === 1005 || code === 1006) downstream.terminate();
      else downstream.close(code, reason.toString());
    });
    downstream.on("close", () => upstream.terminate());
    downstream.on("message", (data: Buffer) => {
      if (data[0] === MessageType.logout && data.length === 1) {
        logoutFrames += 1;
        if (armed) {
          armed = false;
          cutOff = true;
          upstream.send(data);
          void relay.kill().then(() => downstream.terminate());
          return;
        }
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
      else early.push(data);
    });
  });
  return {
    url: `ws://127.0.0.1:${port}/v1`,
    /** Kills the relay right after the next `logout` frame. */
    armKillOnLogout(): void {
      armed = true;
    },
    get logoutFrames(): number {
      return logoutFrames;
    },
    close(): Promise<void> {
      for (const client of server.clients) client.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("a logout is delivered only when the relay acknowledges it", () => {
  const fixture = useClientFixture();

  it("keeps the notice when the relay dies right after the logout frame, re-sends it after the restart, and the old secret is refused", async () => {
    const relay = await fixture.startRelay();
    const proxy = await startLogoutKillingProxy(relay);
    try {
      const dir = mkdtempSync(join(tmpdir(), "parley-logout-ack-"));
      const storage = directoryStorage(dir);
      const client = fixture.client({ storage, relayUrl: proxy.url });
      await client.ready;
      await client.send("anonymous words");
      await client.flush();
      const oldToken = await storedAnonymousToken(storage);
      const oldRoom = roomName({
        appId: TEST_APP.id,
        kind: "anonymous",
        subject: anonymousIdFromSecret(parseAnonymousToken(oldToken) ?? ""),
      });

      proxy.armKillOnLogout();
      await client.logout();

      // The frame went out, the relay died: no ack, so the notice is kept (its retries reach no relay).
      expect(proxy.logoutFrames).toBeGreaterThanOrEqual(1);
      expect(client.identity.kind).toBe("anonymous");
      expect(JSON.stringify(await storage.get(NOTICES_KEY))).toContain(oldRoom);

      const sentBeforeRestart = proxy.logoutFrames;
      await relay.restart();
      await waitFor(async () => (await storage.get(NOTICES_KEY)) === undefined, {
        what: "the notice is delivered to the restarted relay",
      });
      expect(proxy.logoutFrames).toBeGreaterThan(sentBeforeRestart);

      const probe = connectRaw(relay, oldRoom, { token: oldToken, client: createSecret() });
      const closed = await probe.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason.split(" ")[0]).toBe("revoked");
    } finally {
      await proxy.close();
    }
  });

  it("treats the relay's close 1000 logged-out as the ack: no notice is kept", async () => {
    const relay = await fixture.startRelay();
    const proxy = await startLogoutKillingProxy(relay);
    try {
      const storage = directoryStorage(mkdtempSync(join(tmpdir(), "parley-logout-ack-")));
      const client = fixture.client({ storage, relayUrl: proxy.url });
      await client.ready;
      await client.send("anonymous words");
      await client.flush();
      const oldToken = await storedAnonymousToken(storage);
      const oldRoom = roomName({
        appId: TEST_APP.id,
        kind: "anonymous",
        subject: anonymousIdFromSecret(parseAnonymousToken(oldToken) ?? ""),
      });

      await client.logout();

      expect(proxy.logoutFrames).toBe(1);
      expect(await storage.get(NOTICES_KEY)).toBeUndefined();
      const closed = await connectRaw(relay, oldRoom, { token: oldToken, client: createSecret() }).closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason.split(" ")[0]).toBe("revoked");
    } finally {
      await proxy.close();
    }
  });
});
