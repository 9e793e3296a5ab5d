/**
 * The relay's extension interface, embedded in-process (extensions are code, so this is the one relay test
 * that does not spawn the CLI) with real WebSocket clients: what each hook sees and when, authentication
 * replaced by an extension, the defaults left out, and an extension that fails breaking nothing.
 */
import {
  CloseCode,
  createSecret,
  listMessages,
  messagesOf,
  roomName,
  TokenExpiredError,
  TokenInvalidError,
} from "@parley/protocol";
import {
  type ChangeEvent,
  createRelay,
  defaultExtensions,
  type ExtensionContext,
  MemoryStorage,
  type Relay,
  type RelayExtension,
  type StoredEvent,
} from "@parley/relay";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { connectRaw, openProvider, signUserToken, TEST_APP, type TestProvider } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const APPS = [{ id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256" as const, secret: TEST_APP.secret }] }];
const room = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

let relay: Relay | undefined;
const providers: TestProvider[] = [];

async function start(extensions: RelayExtension[]): Promise<{ url: string; httpUrl: string }> {
  relay = createRelay({ apps: APPS, port: 0, storage: new MemoryStorage(), extensions });
  const { port } = await relay.listen();
  return { url: `ws://127.0.0.1:${port}/v1`, httpUrl: `http://127.0.0.1:${port}` };
}

function open(target: { url: string }, userId: string, token: string): TestProvider {
  const provider = openProvider(target, room(userId), token);
  providers.push(provider);
  return provider;
}

function say(provider: TestProvider, text: string): string {
  const id = `m-${createSecret().slice(0, 12)}`;
  messagesOf(provider.doc).push([{ id, role: "user", client: provider.clientId, text, ts: Date.now() }]);
  return id;
}

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.destroy();
  await relay?.close();
  relay = undefined;
});

/** An extension that records what it is told. */
function recorder() {
  const seen = {
    loaded: [] as string[],
    changes: [] as ChangeEvent[],
    stored: [] as StoredEvent[],
    connected: [] as string[],
    disconnected: [] as Array<{ clientId: string; code: number }>,
    refusals: [] as Array<{ code: number; reason: string }>,
    order: [] as string[],
  };
  const extension: RelayExtension = {
    name: "recorder",
    onRoomLoaded: (handle) => seen.loaded.push(handle.name),
    onChange: (event) => {
      seen.changes.push(event);
      seen.order.push(`change:${event.clientId ?? "relay"}`);
    },
    onStored: (event) => {
      seen.stored.push(event);
      seen.order.push("stored");
    },
    onConnect: (event) => seen.connected.push(event.clientId),
    onDisconnect: (event) => seen.disconnected.push({ clientId: event.clientId, code: event.code }),
    onRefusal: (event) => seen.refusals.push({ code: event.code, reason: event.reason }),
  };
  return { seen, extension };
}

describe("relay extensions", () => {
  it("see a room load, a client's change before its durable state, connects and disconnects", async () => {
    const { seen, extension } = recorder();
    const target = await start([extension]);
    const writer = open(target, "alice", await signUserToken("alice"));
    await waitFor(() => writer.provider.synced, { what: "writer synced" });
    expect(seen.loaded).toEqual([room("alice")]);
    expect(seen.connected).toContain(writer.clientId);

    const id = say(writer, "hello");
    const change = await waitFor(() => seen.changes.find((event) => event.clientId === writer.clientId), {
      what: "the client's change",
    });
    // The change event carries exactly the update the client sent, applied after the authorship check.
    const copy = new Y.Doc();
    Y.applyUpdate(copy, change.update);
    expect(listMessages(copy).map((message) => message.id)).toContain(id);
    // Stored after the change, with a state vector that covers the client's structs.
    await waitFor(() => seen.order.indexOf("stored", seen.order.indexOf(`change:${writer.clientId}`)) > 0, {
      what: "a stored event after the change",
    });
    const last = seen.stored.at(-1);
    expect(Y.decodeStateVector(last?.stateVector ?? new Uint8Array()).get(writer.doc.clientID)).toBeGreaterThan(0);

    writer.provider.disconnect();
    await waitFor(() => seen.disconnected.some((event) => event.clientId === writer.clientId), {
      what: "the disconnect",
    });
  });

  it("hear of a refused update, which never reaches onChange", async () => {
    const { seen, extension } = recorder();
    const target = await start([extension]);
    const forger = open(target, "mallory", await signUserToken("mallory"));
    await waitFor(() => forger.provider.synced, { what: "forger synced" });
    const closed = new Promise<number>((resolve) =>
      forger.provider.on("connection-close", (event: CloseEvent | null) => resolve(event?.code ?? 0)),
    );
    messagesOf(forger.doc).push([{ id: "forged-1", role: "business", author: {}, text: "refund!", ts: Date.now() }]);
    expect(await closed).toBe(CloseCode.Authorship);
    expect(seen.refusals.map((refusal) => refusal.code)).toContain(CloseCode.Authorship);
    for (const event of seen.changes) {
      const copy = new Y.Doc();
      Y.applyUpdate(copy, event.update);
      expect(listMessages(copy).map((message) => message.id)).not.toContain("forged-1");
    }
  });

  it("can replace the JWT check, while the relay still ties the credential to the room", async () => {
    const opaque: RelayExtension = {
      name: "opaque-tokens",
      onAuthenticate({ token }) {
        if (token === "expired-session") throw new TokenExpiredError("session ended");
        if (token === "junk") throw new TokenInvalidError("malformed", "not a session");
        const match = /^session-(\w+)$/.exec(token);
        return match?.[1] === undefined ? undefined : { appId: TEST_APP.id, userId: match[1] };
      },
    };
    const target = await start([opaque]);
    const alice = open(target, "alice", "session-alice");
    await waitFor(() => alice.provider.synced, { what: "alice synced with an opaque token" });

    const params = (token: string) => ({ token, client: createSecret() });
    const codes = await Promise.all(
      [
        connectRaw(target, room("bob"), params("session-alice")), // alice's credential, bob's room
        connectRaw(target, room("alice"), params("expired-session")),
        connectRaw(target, room("alice"), params("junk")),
      ].map(async (client) => (await client.closed).code),
    );
    expect(codes).toEqual([CloseCode.Forbidden, CloseCode.TokenExpired, CloseCode.Unauthorized]);

    // A credential the extension does not decide on falls through to the configured app keys.
    const jwt = open(target, "carol", await signUserToken("carol"));
    await waitFor(() => jwt.provider.synced, { what: "carol synced with a JWT" });
  });

  it("write through a room handle as the relay, and clients receive it", async () => {
    let context: ExtensionContext | undefined;
    const grab: RelayExtension = {
      name: "grab-context",
      onStart(given) {
        context = given;
      },
    };
    const target = await start([grab]);
    const reader = open(target, "dave", await signUserToken("dave"));
    await waitFor(() => reader.provider.synced, { what: "reader synced" });
    const handle = await (context as ExtensionContext).rooms.open(room("dave"));
    const release = handle.hold();
    try {
      await handle.transactAsRelay((doc) =>
        messagesOf(doc).push([{ id: "biz-ext-1", role: "business", author: {}, text: "from an extension", ts: 1 }]),
      );
    } finally {
      release();
    }
    await waitFor(() => listMessages(reader.doc).some((message) => message.id === "biz-ext-1"), {
      what: "the relay-authored message to reach the client",
    });
  });

  it("serve HTTP; the business API is one of the defaults and can be left out", async () => {
    const ping: RelayExtension = {
      name: "ping",
      onRequest(request, response) {
        if (request.url !== "/ping") return false;
        response.writeHead(200, { "content-type": "text/plain" }).end("pong");
        return true;
      },
    };
    const bare = await start([ping]);
    expect(await (await fetch(`${bare.httpUrl}/ping`)).text()).toBe("pong");
    expect((await fetch(`${bare.httpUrl}/v1/apps/${TEST_APP.id}/users`)).status).toBe(404);
    await relay?.close();

    const full = await start([...defaultExtensions(), ping]);
    expect(await (await fetch(`${full.httpUrl}/ping`)).text()).toBe("pong");
    // Served by the business API: no app token, so 401 rather than 404.
    expect((await fetch(`${full.httpUrl}/v1/apps/${TEST_APP.id}/users`)).status).toBe(401);
  });

  it("that throw break nothing: the room keeps syncing", async () => {
    const broken: RelayExtension = {
      name: "broken",
      onRoomLoaded: () => {
        throw new Error("boom");
      },
      onChange: () => {
        throw new Error("boom");
      },
      onStored: () => {
        throw new Error("boom");
      },
      onConnect: () => {
        throw new Error("boom");
      },
    };
    const target = await start([broken]);
    const token = await signUserToken("erin");
    const writer = open(target, "erin", token);
    const reader = open(target, "erin", token);
    await waitFor(() => writer.provider.synced && reader.provider.synced, { what: "both synced" });
    const id = say(writer, "still works");
    await waitFor(() => listMessages(reader.doc).some((message) => message.id === id), {
      what: "the message to reach the reader",
    });
  });
});
