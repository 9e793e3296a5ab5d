/**
 * Killing compromised tokens by id, against a real relay process: a `jti` in the app's `denyTokenIds` is refused
 * at connect (4401 `token-denied`), in an in-band refresh (`refreshed` with `token-denied`, the socket carries on
 * on its old token) and on the business API (401); adding it by a reload closes the open sockets that use it
 * (4401 `token-denied`) while the others of the same room keep syncing.
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  createSecret,
  encodeRefresh,
  listMessages,
  MessageType,
  messagesOf,
  type RefreshAnswer,
  readRefreshed,
} from "@parley/protocol";
import { SignJWT } from "jose";
import * as decoding from "lib0/decoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userRoom } from "./support/honest-sync.js";
import {
  connectRaw,
  openProvider,
  type RawClient,
  type RelayHandle,
  signUserToken,
  startRelay,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const ADMIN = "admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";
const app = (denyTokenIds: string[]) => ({
  id: TEST_APP.id,
  keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }],
  denyTokenIds,
});

let relay: RelayHandle;
const sockets: RawClient[] = [];
const providers: TestProvider[] = [];

beforeAll(async () => {
  relay = await startRelay({ apps: [app(["denied-at-start"])], extraConfig: { admin: { token: ADMIN } } });
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  for (const provider of providers) provider.destroy();
  await relay?.stop();
});

const tokenWith = (userId: string, jti?: string) => signUserToken(userId, jti === undefined ? {} : { claims: { jti } });

/** Connects to `userId`'s room with `token`; resolves once admitted (first frame). */
async function open(userId: string, token: string): Promise<RawClient> {
  const raw = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  sockets.push(raw);
  await raw.opened;
  await waitFor(() => raw.frames.length > 0, { what: "the relay's first frame" });
  return raw;
}

const tokenOf = (closed: { code: number; reason: string }) => [closed.code, closed.reason.split(" ")[0]];

async function refused(userId: string, token: string) {
  const raw = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  sockets.push(raw);
  return tokenOf(await raw.closed);
}

async function reload(denyTokenIds: string[]) {
  const config = JSON.parse(readFileSync(relay.configFile, "utf8")) as Record<string, unknown>;
  writeFileSync(relay.configFile, JSON.stringify({ ...config, apps: [app(denyTokenIds)] }));
  const response = await fetch(`${relay.httpUrl}/v1/admin/reload`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { changed: string[]; closed: { keyRemoved: number; tokenDenied: number } };
}

describe("jti denylist", () => {
  it("refuses a denied token id at connect with 4401 token-denied; other ids and tokens without one open", async () => {
    expect(await refused("deny-connect", await tokenWith("deny-connect", "denied-at-start"))).toEqual([
      4401,
      "token-denied",
    ]);
    await open("deny-connect", await tokenWith("deny-connect", "another-id"));
    await open("deny-connect", await tokenWith("deny-connect"));
  });

  it("a reload that denies an id closes the open sockets that use it; the room's others keep working", async () => {
    const compromised = await tokenWith("deny-open", "compromised");
    const victim = await open("deny-open", compromised);
    const token = await tokenWith("deny-open", "fine");
    const writer = openProvider(relay, userRoom("deny-open"), token);
    const reader = openProvider(relay, userRoom("deny-open"), token);
    providers.push(writer, reader);
    const closes: unknown[] = [];
    for (const side of [writer, reader]) side.provider.on("connection-close", (event) => closes.push(event));
    await waitFor(() => writer.provider.synced && reader.provider.synced, { what: "honest clients synced" });

    const answer = await reload(["denied-at-start", "compromised"]);
    expect(answer).toMatchObject({ changed: ['apps["testapp"].denyTokenIds'], closed: { tokenDenied: 1 } });
    expect(tokenOf(await victim.closed)).toEqual([4401, "token-denied"]);
    expect(await refused("deny-open", compromised)).toEqual([4401, "token-denied"]);

    const id = `m-${createSecret().slice(0, 12)}`;
    messagesOf(writer.doc).push([{ id, role: "user", client: writer.clientId, text: "still here", ts: Date.now() }]);
    await waitFor(() => listMessages(reader.doc).some((message) => message.id === id), { what: "the message" });
    expect(closes).toEqual([]);

    // Taken off the list again, the id opens rooms again.
    await reload(["denied-at-start"]);
    await open("deny-open", compromised);
  });

  it("refuses an in-band refresh to a denied token; the socket carries on with its own token", async () => {
    const raw = await open("deny-refresh", await tokenWith("deny-refresh", "current"));
    const refresh = async (token: string): Promise<RefreshAnswer> => {
      const before = raw.frames.length;
      raw.ws.send(encodeRefresh(token));
      return waitFor(
        () =>
          raw.frames.slice(before).flatMap((frame) => {
            const decoder = decoding.createDecoder(frame);
            return decoding.readVarUint(decoder) === MessageType.refreshed ? [readRefreshed(decoder)] : [];
          })[0],
        { what: "the refreshed answer" },
      );
    };
    expect(await refresh(await tokenWith("deny-refresh", "denied-at-start"))).toEqual({
      accepted: false,
      reason: "token-denied",
    });
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    expect((await refresh(await tokenWith("deny-refresh", "next"))).accepted).toBe(true);
  });

  it("refuses a denied app token on the business API with 401", async () => {
    const appToken = async (jti: string) =>
      new SignJWT({ scope: "app" })
        .setProtectedHeader({ alg: "HS256", kid: TEST_APP.kid })
        .setJti(jti)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(TEST_APP.secret));
    const list = async (token: string) =>
      fetch(`${relay.httpUrl}/v1/apps/${TEST_APP.id}/users`, { headers: { authorization: `Bearer ${token}` } });
    const denied = await list(await appToken("denied-at-start"));
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("ERR_TOKEN_INVALID");
    expect((await list(await appToken("app-ok"))).status).toBe(200);
  });
});
