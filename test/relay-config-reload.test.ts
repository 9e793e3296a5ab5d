/**
 * Key rotation without a restart, against a real relay process: the config file is rewritten and reloaded by
 * SIGHUP or `POST /v1/admin/reload`. A new key opens rooms at once; an open socket whose token was signed by a
 * removed key closes 4401 `key-removed`, while the other sockets of the same room keep syncing; a config that
 * does not validate changes nothing (logged, and 400 on the endpoint); the endpoint wants the admin token.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createSecret, listMessages, messagesOf } from "@parley/protocol";
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

interface Key {
  kid: string;
  secret: string;
}
const OLD: Key = { kid: "k-old", secret: "old-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const STAY: Key = { kid: "k-stay", secret: "stay-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const NEW: Key = { kid: "k-new", secret: "new-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const ADMIN = "admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";

const app = (keys: Key[]) => ({
  id: TEST_APP.id,
  keys: keys.map((key) => ({ kid: key.kid, alg: "HS256", secret: key.secret })),
});

let relay: RelayHandle;
const sockets: RawClient[] = [];
const providers: TestProvider[] = [];

beforeAll(async () => {
  relay = await startRelay({ apps: [app([OLD, STAY])], extraConfig: { admin: { token: ADMIN } } });
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  for (const provider of providers) provider.destroy();
  await relay?.stop();
});

/** Rewrites the relay's config file: the running one with `changes` on top. */
function writeConfig(changes: Record<string, unknown>): void {
  const current = JSON.parse(readFileSync(relay.configFile, "utf8")) as Record<string, unknown>;
  writeFileSync(relay.configFile, JSON.stringify({ ...current, ...changes }));
}

/** Sends SIGHUP and resolves with the relay's log line that ends the reload (reloaded, or refused). */
async function sighup(): Promise<{ msg: string; [field: string]: unknown }> {
  const before = relay.logs.length;
  relay.signal("SIGHUP");
  return waitFor(
    () =>
      relay.logs
        .slice(before)
        .map((line) => JSON.parse(line) as { msg: string })
        .find((entry) => entry.msg === "config reloaded" || entry.msg.startsWith("config reload refused")),
    { what: "the reload's log line" },
  );
}

/** `POST /v1/admin/reload` with `token` as the bearer (none if `null`). */
async function adminReload(token: string | null, options: { method?: string; path?: string } = {}) {
  const response = await fetch(`${relay.httpUrl}${options.path ?? "/v1/admin/reload"}`, {
    method: options.method ?? "POST",
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON answer as it comes.
  const body = (await response.json()) as any;
  return { status: response.status, body, headers: response.headers };
}

/** Opens `userId`'s room with a token signed by `key`; resolves once the relay admitted it (first frame). */
async function open(userId: string, key: Key): Promise<RawClient> {
  const token = await signUserToken(userId, { kid: key.kid, secret: key.secret });
  const raw = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  sockets.push(raw);
  await raw.opened;
  await waitFor(() => raw.frames.length > 0, { what: "the relay's first frame" });
  return raw;
}

/** The close code and reason token of a connection to `userId`'s room with a token signed by `key`. */
async function refusal(userId: string, key: Key): Promise<[number, string | undefined]> {
  const token = await signUserToken(userId, { kid: key.kid, secret: key.secret });
  const raw = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  sockets.push(raw);
  const closed = await raw.closed;
  return [closed.code, closed.reason.split(" ")[0]];
}

/** Two stock clients of `userId`'s room on tokens signed by `key`, synced, counting their closes. */
async function pair(userId: string, key: Key) {
  const token = await signUserToken(userId, { kid: key.kid, secret: key.secret });
  const writer = openProvider(relay, userRoom(userId), token);
  const reader = openProvider(relay, userRoom(userId), token);
  providers.push(writer, reader);
  const closes: unknown[] = [];
  for (const side of [writer, reader]) side.provider.on("connection-close", (event) => closes.push(event));
  await waitFor(() => writer.provider.synced && reader.provider.synced, { what: `${userId}'s clients synced` });
  return { writer, reader, closes };
}

/** A message from `writer` reaches `reader` through the relay. */
async function exchange(writer: TestProvider, reader: TestProvider): Promise<void> {
  const id = `m-${createSecret().slice(0, 12)}`;
  messagesOf(writer.doc).push([{ id, role: "user", client: writer.clientId, text: "after reload", ts: Date.now() }]);
  await waitFor(() => listMessages(reader.doc).some((message) => message.id === id), { what: `message ${id}` });
}

const tokenOf = (closed: { code: number; reason: string }) => [closed.code, closed.reason.split(" ")[0]];

describe("SIGHUP reloads the config file", () => {
  it("a new key works at once; a removed key's socket closes 4401 key-removed; the room's others keep working", async () => {
    writeConfig({ apps: [app([OLD, STAY])] });
    expect((await sighup()).msg).toBe("config reloaded");
    expect(await refusal("rotate", NEW)).toEqual([4401, "unknown-key"]);
    const onOldKey = await open("rotate", OLD);
    const { writer, reader, closes } = await pair("rotate", STAY);

    writeConfig({ apps: [app([STAY, NEW])] });
    const reloaded = await sighup();
    expect(reloaded).toMatchObject({
      msg: "config reloaded",
      changed: ['apps["testapp"].keys'],
      closed: { keyRemoved: 1, tokenDenied: 0 },
    });

    expect(tokenOf(await onOldKey.closed)).toEqual([4401, "key-removed"]);
    await open("rotate", NEW);
    expect(await refusal("rotate", OLD)).toEqual([4401, "unknown-key"]);
    await exchange(writer, reader);
    await exchange(reader, writer);
    expect(closes).toEqual([]);
  });

  it("a file that does not validate is logged, and the running keys and sockets stay", async () => {
    writeConfig({ apps: [app([STAY])] });
    expect((await sighup()).msg).toBe("config reloaded");
    const onStay = await open("bad-file", STAY);

    writeConfig({ apps: [{ id: TEST_APP.id, keys: [{ kid: "short", alg: "HS256", secret: "too short" }] }] });
    const refused = await sighup();
    expect(refused).toMatchObject({ level: "error", code: "ERR_INVALID_ARGUMENT" });
    expect(JSON.stringify(refused)).toContain("config.apps[0].keys[0].secret");
    expect(JSON.stringify(refused)).not.toContain("too short");

    await open("bad-file", STAY);
    expect(await refusal("bad-file", { kid: "short", secret: "too short" })).toEqual([4401, "unknown-key"]);
    expect(onStay.ws.readyState).toBe(onStay.ws.OPEN);
  });
});

describe("POST /v1/admin/reload", () => {
  it("answers 401 without the admin token, 404 and 405 for other paths and methods", async () => {
    for (const token of [null, "wrong-token-0123456789-abcdefghijklmnopqrstuvwxyz", `${ADMIN}x`]) {
      const answer = await adminReload(token);
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe("ERR_TOKEN_INVALID");
      expect(answer.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await adminReload(ADMIN, { method: "GET" })).status).toBe(405);
    expect((await adminReload(ADMIN, { path: "/v1/admin/restart" })).body.error.code).toBe("ERR_NOT_FOUND");
    // Unauthenticated requests never learn which admin paths exist.
    expect((await adminReload(null, { path: "/v1/admin/restart" })).status).toBe(401);
  });

  it("refuses a bad config with 400 and its error code; the old config keeps working", async () => {
    writeConfig({ apps: [app([STAY])] });
    expect((await adminReload(ADMIN)).status).toBe(200);
    const onStay = await open("bad-http", STAY);

    const good = readFileSync(relay.configFile, "utf8");
    writeFileSync(relay.configFile, '{ "apps": [ "not json');
    const unreadable = await adminReload(ADMIN);
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.error).toMatchObject({ code: "ERR_INVALID_ARGUMENT", argument: "config" });

    writeFileSync(relay.configFile, good);
    writeConfig({ apps: [app([NEW]), { id: "another-app", keys: app([NEW]).keys }] });
    const added = await adminReload(ADMIN);
    expect(added.status).toBe(400);
    expect(added.body.error).toMatchObject({ code: "ERR_INVALID_ARGUMENT", argument: "config.apps" });
    expect(added.body.error.message).toContain("added another-app");

    await open("bad-http", STAY);
    expect(await refusal("bad-http", NEW)).toEqual([4401, "unknown-key"]);
    expect(onStay.ws.readyState).toBe(onStay.ws.OPEN);
  });

  it("applies a good config: 200 with what changed, the new key opens rooms, the removed key's sockets close", async () => {
    writeConfig({ apps: [app([OLD, STAY])], roomGraceMs: 5000 });
    expect((await adminReload(ADMIN)).status).toBe(200);
    const onOld = await open("good-http", OLD);
    const { writer, reader, closes } = await pair("good-http", STAY);

    writeConfig({ apps: [app([STAY, NEW])], roomGraceMs: 100 });
    const answer = await adminReload(ADMIN);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ok: true,
      changed: ['apps["testapp"].keys'],
      restartNeeded: ["roomGraceMs"],
      closed: { keyRemoved: 1, tokenDenied: 0 },
    });
    expect(tokenOf(await onOld.closed)).toEqual([4401, "key-removed"]);
    await open("good-http", NEW);
    await exchange(writer, reader);
    expect(closes).toEqual([]);
  });

  it("rotates its own token, and answers 403 once the admin token is removed", async () => {
    const next = "next-admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";
    writeConfig({ roomGraceMs: 5000, admin: { token: next } });
    expect((await adminReload(ADMIN)).body.changed).toEqual(["admin.token"]);
    expect((await adminReload(ADMIN)).status).toBe(401);

    writeConfig({ admin: { token: null } });
    expect((await adminReload(next)).status).toBe(200);
    const disabled = await adminReload(next);
    expect(disabled.status).toBe(403);
    expect(disabled.body.error.code).toBe("ERR_FORBIDDEN");

    // SIGHUP still works without it, and brings it back.
    writeConfig({ admin: { token: ADMIN } });
    expect((await sighup()).changed).toEqual(["admin.token"]);
    expect((await adminReload(ADMIN)).status).toBe(200);
  });
});
