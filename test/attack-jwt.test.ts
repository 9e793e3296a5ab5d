/**
 * Token attacks against a real relay process. Each forged, misused or stale token must be refused with
 * its documented close code (the upgrade completes and the relay closes, so browsers see the code), and
 * a token must only ever open the room of the exact userId and app it names.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloseCode, createSecret, MessageType, roomName } from "@parley/protocol";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import * as decoding from "lib0/decoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";

const OTHER_APP = { id: "otherapp", kid: "other-k1", secret: "other-secret-0123456789-abcdefghijklmnopqrstuvw" };
const RSA_APP = { id: "rsaapp", kid: "rsa-k1" };
const OLD_KEY = { kid: "old-k1", secret: "old-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };

type Outcome = { kind: "synced" } | { kind: "closed"; code: number } | { kind: "http"; status: number };

let relay: RelayHandle;
let rsa: { privateKey: CryptoKey; publicPem: string };
const sockets = new Set<WebSocket>();

const userRoom = (userId: string, appId = TEST_APP.id) => roomName({ appId, kind: "user", subject: userId });

/** Opens `room` with `token`: synced (the relay sent sync step 1), closed with a code, or an HTTP refusal. */
function attempt(room: string, token: string, target: RelayHandle = relay): Promise<Outcome> {
  const params = new URLSearchParams({ token, client: createSecret() });
  const socket = new WebSocket(`${target.url}/${room}?${params}`, { maxPayload: 1 << 20 });
  sockets.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no outcome for ${room}`)), 20_000);
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.terminate();
      sockets.delete(socket);
      resolve(outcome);
    };
    socket.on("error", () => {});
    socket.on("unexpected-response", (_request, response) =>
      finish({ kind: "http", status: response.statusCode ?? 0 }),
    );
    socket.on("message", (data: Buffer) => {
      if (decoding.readVarUint(decoding.createDecoder(new Uint8Array(data))) === MessageType.sync) {
        finish({ kind: "synced" });
      }
    });
    socket.on("close", (code: number) => finish({ kind: "closed", code }));
  });
}

const closedWith = (code: number): Outcome => ({ kind: "closed", code });
const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** A compact JWT with any header, signed with HMAC-SHA256 over `secret` (or unsigned when `secret` is null). */
function rawToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  if (secret === null) return `${input}.`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  rsa = { privateKey: pair.privateKey, publicPem: await exportSPKI(pair.publicKey) };
  relay = await startRelay({
    apps: [
      { id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] },
      { id: OTHER_APP.id, keys: [{ kid: OTHER_APP.kid, alg: "HS256", secret: OTHER_APP.secret }] },
      { id: RSA_APP.id, keys: [{ kid: RSA_APP.kid, alg: "RS256", publicKey: rsa.publicPem }] },
    ],
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await relay?.stop();
});

describe("JWT attacks", () => {
  it("opens the room with a valid token (control)", async () => {
    expect(await attempt(userRoom("alice"), await signUserToken("alice"))).toEqual({ kind: "synced" });
    const rs256 = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "RS256", kid: RSA_APP.kid })
      .setExpirationTime("1h")
      .sign(rsa.privateKey);
    expect(await attempt(userRoom("alice", RSA_APP.id), rs256)).toEqual({ kind: "synced" });
  });

  it("refuses alg none", async () => {
    for (const alg of ["none", "None", "NONE"]) {
      const token = rawToken({ alg, kid: TEST_APP.kid, typ: "JWT" }, { sub: "alice", exp: inAnHour() }, null);
      expect(await attempt(userRoom("alice"), token), alg).toEqual(closedWith(CloseCode.Unauthorized));
    }
  });

  it("refuses HS256 signed with the RSA public key as the secret", async () => {
    for (const secret of [rsa.publicPem, rsa.publicPem.trim()]) {
      const token = rawToken({ alg: "HS256", kid: RSA_APP.kid }, { sub: "alice", exp: inAnHour() }, secret);
      expect(await attempt(userRoom("alice", RSA_APP.id), token)).toEqual(closedWith(CloseCode.Unauthorized));
    }
  });

  it("refuses unknown, empty, missing and path-like kids", async () => {
    const payload = { sub: "alice", exp: inAnHour() };
    for (const kid of ["nope", "", "../test-k1", "test-k1/../test-k1", "/etc/passwd", "test-k1\u0000", " test-k1", 7]) {
      const token = rawToken({ alg: "HS256", kid }, payload, TEST_APP.secret);
      expect(await attempt(userRoom("alice"), token), JSON.stringify(kid)).toEqual(closedWith(CloseCode.Unauthorized));
    }
    const noKid = rawToken({ alg: "HS256" }, payload, TEST_APP.secret);
    expect(await attempt(userRoom("alice"), noKid)).toEqual(closedWith(CloseCode.Unauthorized));
  });

  it("ignores jku, x5u and jwk headers: only configured keys verify", async () => {
    const attacker = await generateKeyPair("RS256", { extractable: true });
    const attackerJwk: JWK = await exportJWK(attacker.publicKey);
    const headers = [
      { jwk: attackerJwk },
      { jku: "http://127.0.0.1:9/jwks.json" },
      { x5u: "http://127.0.0.1:9/cert.pem" },
      { jwk: attackerJwk, jku: "http://127.0.0.1:9/jwks.json", x5u: "http://127.0.0.1:9/cert.pem" },
    ];
    for (const extra of headers) {
      for (const kid of [RSA_APP.kid, "attacker-k1"]) {
        const token = await new SignJWT({ sub: "alice" })
          .setProtectedHeader({ alg: "RS256", kid, ...extra })
          .setExpirationTime("1h")
          .sign(attacker.privateKey);
        expect(await attempt(userRoom("alice", RSA_APP.id), token)).toEqual(closedWith(CloseCode.Unauthorized));
      }
    }
    const hsWithJku = rawToken(
      { alg: "HS256", kid: TEST_APP.kid, jku: "http://127.0.0.1:9/jwks.json" },
      { sub: "alice", exp: inAnHour() },
      "attacker-secret-0123456789-abcdefghijklmnop",
    );
    expect(await attempt(userRoom("alice"), hsWithJku)).toEqual(closedWith(CloseCode.Unauthorized));
  });

  it("refuses an expired token and one not valid yet", async () => {
    expect(await attempt(userRoom("alice"), await signUserToken("alice", { expiresIn: -120 }))).toEqual(
      closedWith(CloseCode.TokenExpired),
    );
    const early = await signUserToken("alice", { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } });
    expect(await attempt(userRoom("alice"), early)).toEqual(closedWith(CloseCode.TokenNotYetValid));
  });

  it("refuses a token that names no user", async () => {
    const tokens = [
      rawToken({ alg: "HS256", kid: TEST_APP.kid }, { exp: inAnHour() }, TEST_APP.secret),
      rawToken({ alg: "HS256", kid: TEST_APP.kid }, { sub: "", exp: inAnHour() }, TEST_APP.secret),
      rawToken({ alg: "HS256", kid: TEST_APP.kid }, { sub: 42, exp: inAnHour() }, TEST_APP.secret),
      rawToken({ alg: "HS256", kid: TEST_APP.kid }, { scope: "appUser", exp: inAnHour() }, TEST_APP.secret),
      rawToken({ alg: "HS256", kid: TEST_APP.kid }, { scope: "app", exp: inAnHour() }, TEST_APP.secret),
    ];
    for (const token of tokens) {
      expect(await attempt(userRoom("alice"), token)).toEqual(closedWith(CloseCode.Unauthorized));
    }
  });

  it("refuses app X's token on app Y's room", async () => {
    expect(await attempt(userRoom("alice", OTHER_APP.id), await signUserToken("alice"))).toEqual(
      closedWith(CloseCode.Forbidden),
    );
    const otherToken = await signUserToken("alice", { kid: OTHER_APP.kid, secret: OTHER_APP.secret });
    expect(await attempt(userRoom("alice", OTHER_APP.id), otherToken)).toEqual({ kind: "synced" });
    expect(await attempt(userRoom("alice"), otherToken)).toEqual(closedWith(CloseCode.Forbidden));
  });

  it("refuses user A's token on user B's room", async () => {
    expect(await attempt(userRoom("bob"), await signUserToken("alice"))).toEqual(closedWith(CloseCode.Forbidden));
  });

  it("refuses a key once it is removed from the configuration", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "parley-attack-jwt-")), "data");
    const testKey = { kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret };
    const oldToken = await signUserToken("alice", { kid: OLD_KEY.kid, secret: OLD_KEY.secret });
    const before = await startRelay({
      dataDir,
      apps: [{ id: TEST_APP.id, keys: [testKey, { kid: OLD_KEY.kid, alg: "HS256", secret: OLD_KEY.secret }] }],
    });
    try {
      expect(await attempt(userRoom("alice"), oldToken, before)).toEqual({ kind: "synced" });
    } finally {
      await before.stop();
    }
    const after = await startRelay({ dataDir, apps: [{ id: TEST_APP.id, keys: [testKey] }] });
    try {
      expect(await attempt(userRoom("alice"), oldToken, after)).toEqual(closedWith(CloseCode.Unauthorized));
      expect(await attempt(userRoom("alice"), await signUserToken("alice"), after)).toEqual({ kind: "synced" });
    } finally {
      await after.stop();
    }
  });

  it("refuses an oversized token with 4401 after the upgrade, without verifying it", async () => {
    const token = await signUserToken("alice", { claims: { padding: "x".repeat(64 * 1024) } });
    expect(token.length).toBeGreaterThan(64 * 1024);
    // Not an HTTP 431 before the upgrade: a browser cannot see that and would retry forever.
    expect(await attempt(userRoom("alice"), token)).toEqual(closedWith(CloseCode.Unauthorized));
    expect(await attempt(userRoom("alice"), await signUserToken("alice"))).toEqual({ kind: "synced" });
  });

  it("never lets a token for one userId open another that differs by normalization, case, encoding or path", async () => {
    const lookalikes: Array<[string, string]> = [
      ["\u00C9lodie", "E\u0301lodie"], // NFC vs NFD
      ["Bob", "bob"],
      ["a%2Fb", "a/b"],
      ["a%2fb", "a%2Fb"],
      ["a/b", "a"],
      ["../alice", "alice"],
      ["a/../b", "b"],
      ["alice ", "alice"],
      ["alice\u0000", "alice"],
    ];
    for (const [one, other] of lookalikes) {
      const tokenOne = await signUserToken(one);
      const tokenOther = await signUserToken(other);
      expect(userRoom(one)).not.toBe(userRoom(other));
      expect(await attempt(userRoom(one), tokenOne), `${one} own room`).toEqual({ kind: "synced" });
      expect(await attempt(userRoom(other), tokenOne), `${one} on ${other}`).toEqual(closedWith(CloseCode.Forbidden));
      expect(await attempt(userRoom(one), tokenOther), `${other} on ${one}`).toEqual(closedWith(CloseCode.Forbidden));
    }
  });
});
