import { connect } from "node:net";
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  type CloseReason,
  createSecret,
  errorCodeForClose,
  errorForClose,
  listMessages,
  messagesOf,
  type ParleyError,
  parseCloseReason,
  roomName,
} from "@parley/protocol";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { connectRaw, openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** Waits for the close and checks its code and reason token, and the typed error a client makes of it. */
async function expectClosed(
  client: { closed: Promise<{ code: number; reason: string }> },
  code: number,
  reason: CloseReason,
) {
  const closed = await client.closed;
  expect(closed).toMatchObject({ code });
  expect(parseCloseReason(closed.code, closed.reason).reason).toBe(reason);
  const error = errorForClose(closed.code, closed.reason) as ParleyError & { reason?: string };
  expect(error.code).toBe(errorCodeForClose(code));
  if ("reason" in error) expect(error.reason).toBe(reason);
}

const OTHER_APP = { id: "otherapp", kid: "other-k1", secret: "other-secret-0123456789-abcdefghijklmnopqrstu" };
const userRoom = (userId: string, appId = TEST_APP.id) => roomName({ appId, kind: "user", subject: userId });

/** A sync update frame carrying one message, as a client would send it. */
function messageFrame(clientId: string, id: string, role: "user" | "business" = "user"): Uint8Array {
  const doc = new Y.Doc();
  const record =
    role === "user"
      ? { id, role, client: clientId, text: "payload", ts: Date.now() }
      : { id, role, author: { name: "x" }, text: "payload", ts: Date.now() };
  messagesOf(doc).push([record as never]);
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc));
  return encoding.toUint8Array(encoder);
}

describe("relay refusals", () => {
  let relay: RelayHandle;
  let rsaKeys: CryptoKeyPair;
  let ecKeys: CryptoKeyPair;

  beforeAll(async () => {
    rsaKeys = await generateKeyPair("RS256");
    ecKeys = await generateKeyPair("ES256");
    relay = await startRelay({
      apps: [
        {
          id: TEST_APP.id,
          keys: [
            { kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret },
            { kid: "rsa-pem", alg: "RS256", publicKey: await exportSPKI(rsaKeys.publicKey) },
            { kid: "ec-jwk", alg: "ES256", publicKey: await exportJWK(ecKeys.publicKey) },
          ],
        },
        { id: OTHER_APP.id, keys: [{ kid: OTHER_APP.kid, alg: "HS256", secret: OTHER_APP.secret }] },
      ],
      extraConfig: { maxFrameBytes: 64 * 1024 },
    });
  });
  afterAll(async () => {
    await relay.stop();
  });

  /**
   * Connects with `params` to `room`, sends a message as soon as the socket opens, expects the close code,
   * then checks with a valid client that nothing of the refused connection was stored.
   */
  async function expectRefused(
    room: string,
    params: Record<string, string>,
    code: number,
    ownerId: string,
    reason: CloseReason,
  ) {
    const client = connectRaw(relay, room, params);
    client.ws.on("open", () => client.ws.send(messageFrame("whoever-client-id-xx", `refused-${code}-msg`)));
    await expectClosed(client, code, reason);
    await expectNothingStored(room, ownerId);
  }

  async function expectNothingStored(room: string, ownerId: string) {
    const reader = openProvider(relay, room, await signUserToken(ownerId));
    try {
      await waitFor(() => reader.provider.synced, { what: "reader synced" });
      expect(listMessages(reader.doc)).toEqual([]);
    } finally {
      reader.destroy();
    }
  }

  const client = () => createSecret();

  it("no token: 4401", async () => {
    await expectRefused(userRoom("u-notoken"), { client: client() }, CloseCode.Unauthorized, "u-notoken", "missing");
  });

  it("malformed token: 4401", async () => {
    await expectRefused(
      userRoom("u-malformed"),
      { token: "not.a.jwt", client: client() },
      4401,
      "u-malformed",
      "malformed",
    );
  });

  it("bad signature: 4401", async () => {
    const token = await signUserToken("u-badsig", { secret: "some-other-secret-that-is-long-enough-12345" });
    await expectRefused(
      userRoom("u-badsig"),
      { token, client: client() },
      CloseCode.Unauthorized,
      "u-badsig",
      "signature",
    );
  });

  it("unknown key id: 4401", async () => {
    const token = await signUserToken("u-kid", { kid: "no-such-kid" });
    await expectRefused(userRoom("u-kid"), { token, client: client() }, CloseCode.Unauthorized, "u-kid", "unknown-key");
  });

  it("wrong algorithm for the key: 4401", async () => {
    // HS384 with the right secret: the HS256 key allows HS256 only.
    const token = await new SignJWT({ sub: "u-alg" })
      .setProtectedHeader({ alg: "HS384", kid: TEST_APP.kid })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_APP.secret));
    await expectRefused(userRoom("u-alg"), { token, client: client() }, CloseCode.Unauthorized, "u-alg", "algorithm");
    // An RS256 key presented with an HS256 token signed with the PEM text as secret (key confusion).
    const pem = await exportSPKI(rsaKeys.publicKey);
    const confused = await new SignJWT({ sub: "u-alg" })
      .setProtectedHeader({ alg: "HS256", kid: "rsa-pem" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(pem));
    await expectRefused(
      userRoom("u-alg"),
      { token: confused, client: client() },
      CloseCode.Unauthorized,
      "u-alg",
      "algorithm",
    );
  });

  it("expired token: 4402", async () => {
    const token = await signUserToken("u-expired", { expiresIn: -120 });
    await expectRefused(
      userRoom("u-expired"),
      { token, client: client() },
      CloseCode.TokenExpired,
      "u-expired",
      "expired",
    );
  });

  it("token not yet valid: 4405", async () => {
    const token = await signUserToken("u-nbf", { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } });
    await expectRefused(
      userRoom("u-nbf"),
      { token, client: client() },
      CloseCode.TokenNotYetValid,
      "u-nbf",
      "not-yet-valid",
    );
  });

  it("another user's room: 4403", async () => {
    const token = await signUserToken("mallory");
    await expectRefused(userRoom("victim"), { token, client: client() }, CloseCode.Forbidden, "victim", "other-room");
  });

  it("another app's key: 4403", async () => {
    const token = await signUserToken("u-app", { kid: OTHER_APP.kid, secret: OTHER_APP.secret });
    await expectRefused(userRoom("u-app"), { token, client: client() }, CloseCode.Forbidden, "u-app", "other-app");
  });

  it("unknown app: 4404", async () => {
    const token = await signUserToken("u-unknown-app");
    const client = connectRaw(relay, userRoom("u-unknown-app", "noapp"), { token, client: createSecret() });
    await expectClosed(client, CloseCode.UnknownApp, "unknown-app");
  });

  it("malformed room name: 4400", async () => {
    const token = await signUserToken("u-room");
    for (const room of [`${TEST_APP.id}/u/bad=`, `${TEST_APP.id}/x/abc`, `${TEST_APP.id}/u/../u/abc`, "nothing"]) {
      await expectClosed(connectRaw(relay, room, { token, client: createSecret() }), CloseCode.BadRequest, "bad-room");
    }
  });

  it("missing or malformed client secret: 4400", async () => {
    const token = await signUserToken("u-client");
    await expectRefused(userRoom("u-client"), { token }, CloseCode.BadRequest, "u-client", "bad-client");
    await expectRefused(
      userRoom("u-client"),
      { token, client: "short" },
      CloseCode.BadRequest,
      "u-client",
      "bad-client",
    );
  });

  it("anonymous token for another anonymous room: 4403", async () => {
    const victim = createSecret();
    const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(victim) });
    const attempt = connectRaw(relay, room, { token: anonymousToken(createSecret()), client: createSecret() });
    await expectClosed(attempt, CloseCode.Forbidden, "other-room");
    // An anonymous token never opens a user room either.
    const userAttempt = connectRaw(relay, userRoom("u-anon"), {
      token: anonymousToken(victim),
      client: createSecret(),
    });
    await expectClosed(userAttempt, CloseCode.Forbidden, "other-room");
  });

  it("accepts RS256 (PEM), ES256 (JWK) and Smooch-style appUser claims", async () => {
    const rs = await new SignJWT({ sub: "u-keys" })
      .setProtectedHeader({ alg: "RS256", kid: "rsa-pem" })
      .setExpirationTime("1h")
      .sign(rsaKeys.privateKey);
    const es = await new SignJWT({ scope: "appUser", userId: "u-keys" })
      .setProtectedHeader({ alg: "ES256", kid: "ec-jwk" })
      .setExpirationTime("1h")
      .sign(ecKeys.privateKey);
    const smooch = await signUserToken("ignored", { claims: { scope: "appUser", external_id: "u-keys" } });
    for (const token of [rs, es, smooch]) {
      const p = openProvider(relay, userRoom("u-keys"), token);
      try {
        await waitFor(() => p.provider.synced, { what: "synced" });
      } finally {
        p.destroy();
      }
    }
    // The ES256 key refuses an RS256 signature.
    const wrong = await new SignJWT({ sub: "u-keys" })
      .setProtectedHeader({ alg: "RS256", kid: "ec-jwk" })
      .setExpirationTime("1h")
      .sign(rsaKeys.privateKey);
    const attempt = connectRaw(relay, userRoom("u-keys"), { token: wrong, client: createSecret() });
    await expectClosed(attempt, CloseCode.Unauthorized, "algorithm");
  });

  describe("frames", () => {
    async function openAs(userId: string) {
      const c = connectRaw(relay, userRoom(userId), { token: await signUserToken(userId), client: createSecret() });
      await c.opened;
      await waitFor(() => c.frames.length > 0, { what: "relay's sync step 1" });
      return c;
    }

    it("unknown message type: 4408", async () => {
      const c = await openAs("f-unknown");
      c.ws.send(new Uint8Array([42, 0]));
      await expectClosed(c, CloseCode.BadFrame, "message-type");
    });

    it("a relay-only message type from a client (auth): 4408", async () => {
      const c = await openAs("f-auth");
      c.ws.send(new Uint8Array([2, 0, 0]));
      await expectClosed(c, CloseCode.BadFrame, "message-type");
    });

    it("truncated frame: 4408", async () => {
      const c = await openAs("f-truncated");
      c.ws.send(new Uint8Array([0, 2, 200, 1, 1]));
      await expectClosed(c, CloseCode.BadFrame, "undecodable");
      await expectNothingStored(userRoom("f-truncated"), "f-truncated");
    });

    it("text frame: 4408", async () => {
      const c = await openAs("f-text");
      c.ws.send("hello");
      await expectClosed(c, CloseCode.BadFrame, "text-frame");
    });

    it("frame over the size limit: 4413, and nothing of it stored", async () => {
      const c = await openAs("f-large");
      const doc = new Y.Doc();
      messagesOf(doc).push([
        { id: "large-msg-01", role: "user", client: "whatever-client-id-00", text: "x".repeat(9000), ts: Date.now() },
      ]);
      for (let i = 0; i < 10; i++) doc.getMap("junk").set(String(i), "y".repeat(8000));
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc));
      const frame = encoding.toUint8Array(encoder);
      expect(frame.length).toBeGreaterThan(64 * 1024);
      c.ws.send(frame);
      await expectClosed(c, CloseCode.TooLarge, "frame-size");
      await expectNothingStored(userRoom("f-large"), "f-large");
    });

    it("an update that breaks authorship (a business message from a user client): 4409, nothing stored", async () => {
      const c = await openAs("f-authorship");
      c.ws.send(messageFrame("whatever", "business-msg-1", "business"));
      await expectClosed(c, CloseCode.Authorship, "authorship");
      await expectNothingStored(userRoom("f-authorship"), "f-authorship");
    });

    it("a frame with reserved bits set closes that socket (1002) and the relay stays up", async () => {
      const token = await signUserToken("f-rsv");
      const socket = connect(relay.port, "127.0.0.1");
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.on("error", () => {});
      const query = new URLSearchParams({ token, client: createSecret() }).toString();
      socket.write(
        `GET /v1/${userRoom("f-rsv")}?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      await waitFor(() => Buffer.concat(received).includes("101 Switching Protocols"), { what: "upgrade" });
      // FIN + RSV1-3 + binary opcode, masked, 1-byte payload: invalid without negotiated extensions.
      socket.write(Buffer.from([0xf2, 0x81, 1, 2, 3, 4, 0x00]));
      await ended;
      const closeFrame = Buffer.concat(received);
      const at = closeFrame.lastIndexOf(0x88);
      expect(at).toBeGreaterThan(-1);
      expect(closeFrame.readUInt16BE(at + 2)).toBe(1002);
      const health = await fetch(`${relay.httpUrl}/healthz`);
      expect(health.status).toBe(200);
    });

    it("other connections carry on after a refused frame", async () => {
      const token = await signUserToken("f-carry");
      const honest = openProvider(relay, userRoom("f-carry"), token);
      try {
        await waitFor(() => honest.provider.synced);
        const bad = await openAs("f-carry");
        bad.ws.send(new Uint8Array([42]));
        await expectClosed(bad, CloseCode.BadFrame, "message-type");
        messagesOf(honest.doc).push([
          { id: "after-bad-01", role: "user", client: honest.clientId, text: "still here", ts: Date.now() },
        ]);
        const reader = openProvider(relay, userRoom("f-carry"), token);
        try {
          await waitFor(() => listMessages(reader.doc).some((m) => m.id === "after-bad-01"));
        } finally {
          reader.destroy();
        }
        const health = await fetch(`${relay.httpUrl}/healthz`);
        expect(health.status).toBe(200);
      } finally {
        honest.destroy();
      }
    });
  });
});

describe("token expiry while connected", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    // A year-long token needs a relay that accepts that lifetime (maxTokenLifetimeS, 24 h by default).
    relay = await startRelay({ extraConfig: { clockToleranceS: 0, maxTokenLifetimeS: 366 * 24 * 3600 } });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it("closes with 4402 when the token expires", async () => {
    const token = await signUserToken("u-expiring", { expiresIn: 2 });
    const c = connectRaw(relay, userRoom("u-expiring"), { token, client: createSecret() });
    await c.opened;
    await expectClosed(c, CloseCode.TokenExpired, "expired");
  });

  it("keeps a connection whose token expires far in the future (no timer overflow)", async () => {
    const token = await signUserToken("u-far", { expiresIn: 60 * 60 * 24 * 365 });
    const c = connectRaw(relay, userRoom("u-far"), { token, client: createSecret() });
    await c.opened;
    await waitFor(() => c.frames.length > 0);
    // A healthy round trip after the expiry timer was armed shows the socket is still open.
    c.ws.send(new Uint8Array([3]));
    const before = c.frames.length;
    await waitFor(() => c.frames.length > before, { what: "answer to query awareness" });
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    c.ws.close();
  });
});
