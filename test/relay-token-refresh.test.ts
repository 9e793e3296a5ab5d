/**
 * Token refresh in band against a real relay: a `refresh` frame replaces the connection's token without a
 * reconnect. Accepted, the connection lives until the new token's `exp`; an expired or invalid token is
 * refused with a reason token and the socket still closes at the old `exp`; another user, another app, or
 * an anonymous connection closes 4403 with its reason token.
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  createSecret,
  encodeRefresh,
  MessageType,
  type RefreshAnswer,
  readRefreshed,
  roomName,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRaw, type RawClient, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const OTHER_APP = { id: "other-app", kid: "other-k1", secret: "other-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
let relay: RelayHandle;
const sockets: RawClient[] = [];

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

beforeAll(async () => {
  relay = await startRelay({
    apps: [
      { id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] },
      { id: OTHER_APP.id, keys: [{ kid: OTHER_APP.kid, alg: "HS256", secret: OTHER_APP.secret }] },
    ],
    // Expiry is exact here, so the old token's end is seconds away, not a tolerance later.
    extraConfig: { clockToleranceS: 0 },
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await relay?.stop();
});

/** Opens `room` with `token` and waits until the relay admitted it (its first frame arrived). */
async function open(room: string, token: string): Promise<RawClient> {
  const raw = connectRaw(relay, room, { token, client: createSecret() });
  sockets.push(raw);
  await raw.opened;
  await waitFor(() => raw.frames.length > 0, { what: "the relay's first frame" });
  return raw;
}

/** Sends `refresh` with `token` and resolves with the relay's `refreshed` answer. */
async function refresh(raw: RawClient, token: string): Promise<RefreshAnswer> {
  const before = raw.frames.length;
  raw.ws.send(encodeRefresh(token));
  let answer: RefreshAnswer | undefined;
  await waitFor(
    () => {
      for (const frame of raw.frames.slice(before)) {
        const decoder = decoding.createDecoder(frame);
        if (decoding.readVarUint(decoder) === MessageType.refreshed) answer = readRefreshed(decoder);
      }
      return answer !== undefined;
    },
    { what: "the refreshed answer" },
  );
  return answer as RefreshAnswer;
}

const tokenCode = (closed: { code: number; reason: string }) => [closed.code, closed.reason.split(" ")[0]];

describe("token refresh in band", () => {
  it("accepts a new token of the same user: the connection outlives the first token's exp", async () => {
    const raw = await open(userRoom("refresh-ok"), await signUserToken("refresh-ok", { expiresIn: 2 }));
    const fresh = await signUserToken("refresh-ok", { expiresIn: "1h" });
    const answer = await refresh(raw, fresh);
    expect(answer.accepted).toBe(true);
    if (!answer.accepted) throw new Error("refused");
    expect(answer.exp).toBeGreaterThan(Math.floor(Date.now() / 1000) + 3000);
    let closed = false;
    void raw.closed.then(() => {
      closed = true;
    });
    // Past the first token's exp, the relay still answers on this socket.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(closed).toBe(false);
    expect((await refresh(raw, fresh)).accepted).toBe(true);
  });

  it("refuses an expired refresh with 'expired' and still closes 4402 expired at the old exp", async () => {
    const raw = await open(userRoom("refresh-expired"), await signUserToken("refresh-expired", { expiresIn: 2 }));
    const answer = await refresh(raw, await signUserToken("refresh-expired", { expiresIn: -60 }));
    expect(answer).toEqual({ accepted: false, reason: "expired" });
    expect(tokenCode(await raw.closed)).toEqual([4402, "expired"]);
  });

  it("refuses a badly signed refresh with 'signature' and still closes 4402 expired at the old exp", async () => {
    const raw = await open(userRoom("refresh-forged"), await signUserToken("refresh-forged", { expiresIn: 2 }));
    const forged = await signUserToken("refresh-forged", { secret: "not-the-key-0123456789-abcdefghijklmnopq" });
    expect(await refresh(raw, forged)).toEqual({ accepted: false, reason: "signature" });
    expect(tokenCode(await raw.closed)).toEqual([4402, "expired"]);
  });

  it("closes 4403 other-room for a token of another user", async () => {
    const raw = await open(userRoom("refresh-alice"), await signUserToken("refresh-alice"));
    raw.ws.send(encodeRefresh(await signUserToken("refresh-mallory")));
    expect(tokenCode(await raw.closed)).toEqual([4403, "other-room"]);
  });

  it("closes 4403 other-app for a token signed by another app's key", async () => {
    const raw = await open(userRoom("refresh-bob"), await signUserToken("refresh-bob"));
    const otherApp = await signUserToken("refresh-bob", { kid: OTHER_APP.kid, secret: OTHER_APP.secret });
    raw.ws.send(encodeRefresh(otherApp));
    expect(tokenCode(await raw.closed)).toEqual([4403, "other-app"]);
  });

  it("closes 4403 other-room for a refresh on an anonymous connection", async () => {
    const secret = createSecret();
    const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
    const raw = await open(room, anonymousToken(secret));
    raw.ws.send(encodeRefresh(await signUserToken("refresh-anon")));
    expect(tokenCode(await raw.closed)).toEqual([4403, "other-room"]);
  });
});
