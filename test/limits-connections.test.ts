/**
 * Connection limits against real relay processes: connections per user and per address (4530), the
 * address taken from `x-forwarded-for` only with `trustProxy` (and then its last entry), the Origin
 * allow-list (4406) and the token size (4401). After each refusal, honest clients still sync.
 */
import { CloseCode, createSecret } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import { type RelayHandle, signUserToken, startRelay } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

type Outcome = { kind: "open"; ws: WebSocket } | { kind: "closed"; code: number };

/**
 * Connects to `userId`'s room with `headers`: "open" once the session started (the relay's first frame),
 * or the close code if the relay refused.
 */
async function connect(
  relay: RelayHandle,
  userId: string,
  headers: Record<string, string> = {},
  token?: string,
): Promise<Outcome> {
  const params = new URLSearchParams({ token: token ?? (await signUserToken(userId)), client: createSecret() });
  const ws = new WebSocket(`${relay.url}/${userRoom(userId)}?${params}`, { headers });
  return new Promise((resolve) => {
    ws.on("error", () => {});
    ws.once("message", () => resolve({ kind: "open", ws }));
    ws.once("close", (code) => resolve({ kind: "closed", code }));
  });
}

function opened(outcome: Outcome): WebSocket {
  if (outcome.kind !== "open") throw new Error(`expected an open session, got close ${outcome.code}`);
  return outcome.ws;
}

/**
 * An open session, retried while the relay still counts sockets that earlier tests closed (the client can
 * see its close before the relay does).
 */
async function openSession(relay: RelayHandle, userId: string, headers: Record<string, string> = {}) {
  return waitFor(
    async () => {
      const outcome = await connect(relay, userId, headers);
      return outcome.kind === "open" ? outcome.ws : null;
    },
    { what: `a session for ${userId}` },
  );
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.splice(0).map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          ws.once("close", () => resolve());
          ws.close();
        }),
    ),
  );
}

describe("connections per user and per address", () => {
  let relay: RelayHandle;
  const open: WebSocket[] = [];
  beforeAll(async () => {
    relay = await startRelay({ extraConfig: { fsync: "off", limits: { connectionsPerUser: 3, connectionsPerIp: 8 } } });
  });
  afterAll(async () => {
    await closeAll(open);
    await relay?.stop();
  });

  it("refuses a user's connection over connectionsPerUser with 4530, and admits one again once a slot is free", async () => {
    for (let i = 0; i < 3; i++) open.push(await openSession(relay, "many-tabs"));
    expect(await connect(relay, "many-tabs")).toEqual({ kind: "closed", code: CloseCode.TooManyConnections });
    await expectHonestSync(relay, "another-user");
    await closeAll(open);
    await expectHonestSync(relay, "many-tabs");
  });

  it("refuses connections over connectionsPerIp with 4530, whatever x-forwarded-for says without trustProxy", async () => {
    for (let i = 0; i < 8; i++) open.push(await openSession(relay, `ip-user-${i}`));
    expect(await connect(relay, "ip-user-8")).toEqual({ kind: "closed", code: CloseCode.TooManyConnections });
    expect(await connect(relay, "ip-user-9", { "x-forwarded-for": "203.0.113.9" })).toEqual({
      kind: "closed",
      code: CloseCode.TooManyConnections,
    });
    await closeAll(open);
    await expectHonestSync(relay, "ip-user-0");
  });
});

describe("trustProxy", () => {
  let relay: RelayHandle;
  const open: WebSocket[] = [];
  beforeAll(async () => {
    relay = await startRelay({ extraConfig: { fsync: "off", limits: { connectionsPerIp: 2, trustProxy: true } } });
  });
  afterAll(async () => {
    await closeAll(open);
    await relay?.stop();
  });

  it("counts the last x-forwarded-for entry, so a client cannot choose its address by adding entries", async () => {
    const viaProxy = (clientSays?: string) => ({
      "x-forwarded-for": clientSays === undefined ? "198.51.100.1" : `${clientSays}, 198.51.100.1`,
    });
    open.push(opened(await connect(relay, "proxied-a", viaProxy())));
    open.push(opened(await connect(relay, "proxied-b", viaProxy("203.0.113.50"))));
    expect(await connect(relay, "proxied-c", viaProxy("203.0.113.51"))).toEqual({
      kind: "closed",
      code: CloseCode.TooManyConnections,
    });
    // Another address behind the proxy, and a direct connection, have their own counts.
    open.push(opened(await connect(relay, "proxied-d", { "x-forwarded-for": "198.51.100.2" })));
    await expectHonestSync(relay, "proxied-a");
  });
});

describe("Origin allow-list and token size", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay({
      extraConfig: { fsync: "off", limits: { allowedOrigins: ["https://app.example.com"], maxTokenBytes: 2048 } },
    });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it("refuses an Origin outside the allow-list with 4406; admits a listed one and a client without Origin", async () => {
    expect(await connect(relay, "origin-user", { origin: "https://evil.example.com" })).toEqual({
      kind: "closed",
      code: CloseCode.OriginNotAllowed,
    });
    opened(await connect(relay, "origin-user", { origin: "https://app.example.com" })).close();
    opened(await connect(relay, "origin-user")).close();
    await expectHonestSync(relay, "origin-user");
  });

  it("refuses a token over maxTokenBytes with 4401 after the upgrade", async () => {
    const long = await signUserToken("token-user", { claims: { padding: "x".repeat(3000) } });
    expect(long.length).toBeGreaterThan(2048);
    expect(await connect(relay, "token-user", {}, long)).toEqual({ kind: "closed", code: CloseCode.Unauthorized });
    const short = await signUserToken("token-user", { claims: { padding: "x".repeat(1000) } });
    opened(await connect(relay, "token-user", {}, short)).close();
    await expectHonestSync(relay, "token-user");
  });
});
