/**
 * `relay.reload()` on an embedded relay (the programmatic side of SIGHUP and `POST /v1/admin/reload`), with real
 * WebSocket clients: a given configuration or the `configSource`, a refused one changing nothing, and
 * connections an `onAuthenticate` extension vouched for left to that extension.
 */
import { createSecret, InvalidArgumentError, InvalidStateError, roomName } from "@parley/protocol";
import { createRelay, MemoryStorage, type Relay, type ReloadOptions } from "@parley/relay";
import { afterEach, describe, expect, it } from "vitest";
import { connectRaw, type RawClient, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const K1 = { kid: "k1", alg: "HS256" as const, secret: "k1-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const K2 = { kid: "k2", alg: "HS256" as const, secret: "k2-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const room = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const appsWith = (...keys: (typeof K1)[]) => [{ id: TEST_APP.id, keys }];

let relay: Relay | undefined;
const sockets: RawClient[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate();
  await relay?.close();
  relay = undefined;
});

async function start(options: { configSource?: () => ReloadOptions; authenticateAs?: string } = {}) {
  const { authenticateAs } = options;
  relay = createRelay({
    apps: appsWith(K1),
    port: 0,
    storage: new MemoryStorage(),
    ...(options.configSource === undefined ? {} : { configSource: options.configSource }),
    ...(authenticateAs === undefined
      ? {}
      : {
          extensions: [
            {
              name: "sessions",
              onAuthenticate: ({ token }) =>
                token === "session-1" ? { appId: TEST_APP.id, userId: authenticateAs } : undefined,
            },
          ],
        }),
  });
  const { port } = await relay.listen();
  return { url: `ws://127.0.0.1:${port}/v1` };
}

async function open(target: { url: string }, userId: string, token: string): Promise<RawClient> {
  const raw = connectRaw(target, room(userId), { token, client: createSecret() });
  sockets.push(raw);
  await raw.opened;
  await waitFor(() => raw.frames.length > 0, { what: "the relay's first frame" });
  return raw;
}

const signed = (userId: string, key: typeof K1) => signUserToken(userId, { kid: key.kid, secret: key.secret });
const tokenOf = (closed: { code: number; reason: string }) => [closed.code, closed.reason.split(" ")[0]];

describe("relay.reload()", () => {
  it("applies a given configuration: the new key opens rooms, the removed key's sockets close 4401", async () => {
    const target = await start();
    const onK1 = await open(target, "alice", await signed("alice", K1));
    // The whole configuration, as createRelay took it: a setting left out means its default.
    const result = await relay?.reload({ apps: appsWith(K2), port: 0 });
    expect(result).toEqual({
      changed: ['apps["testapp"].keys'],
      restartNeeded: [],
      closed: { keyRemoved: 1, tokenDenied: 0 },
    });
    expect(tokenOf(await onK1.closed)).toEqual([4401, "key-removed"]);
    await open(target, "alice", await signed("alice", K2));
  });

  it("reads the configSource when given no configuration, and says when there is none", async () => {
    let next = appsWith(K1);
    const target = await start({ configSource: () => ({ apps: next, port: 0 }) });
    next = appsWith(K1, K2);
    expect((await relay?.reload())?.changed).toEqual(['apps["testapp"].keys']);
    await open(target, "bob", await signed("bob", K2));
    await relay?.close();

    await start();
    await expect(relay?.reload()).rejects.toBeInstanceOf(InvalidStateError);
  });

  it("refuses a configuration that does not validate and changes nothing", async () => {
    const target = await start();
    const onK1 = await open(target, "carol", await signed("carol", K1));
    const bad = { apps: [{ id: TEST_APP.id, keys: [{ ...K2, secret: "short" }] }] };
    const error = await relay?.reload(bad).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe("config.apps[0].keys[0].secret");
    await open(target, "carol", await signed("carol", K1));
    expect(onK1.ws.readyState).toBe(onK1.ws.OPEN);
  });

  it("leaves connections an onAuthenticate extension vouched for to that extension", async () => {
    const target = await start({ authenticateAs: "dave" });
    const bySession = await open(target, "dave", "session-1");
    const byKey = await open(target, "dave", await signed("dave", K1));
    expect((await relay?.reload({ apps: appsWith(K2), port: 0 }))?.closed.keyRemoved).toBe(1);
    expect(tokenOf(await byKey.closed)).toEqual([4401, "key-removed"]);
    expect(bySession.ws.readyState).toBe(bySession.ws.OPEN);
  });
});
