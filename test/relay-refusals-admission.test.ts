/**
 * Every refusal of admission and login merge, one table row each, against a real relay (embedded in-process,
 * because two rows need a storage that fails on demand and an authentication that waits): each row asserts
 * the close code AND the reason token the client reads (and the typed error it makes of them), that nothing
 * of the refused connection reached storage, and that an honest client of the same room keeps working.
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  type CloseReason,
  createSecret,
  encodeClientInfo,
  errorCodeForClose,
  errorForClose,
  listMessages,
  MessageType,
  messagesOf,
  ownersOf,
  type ParleyError,
  parseCloseReason,
  RelayError,
  roomName,
} from "@parley/protocol";
import { createRelay, MemoryStorage, type Relay } from "@parley/relay";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { connectRaw, openProvider, type RawClient, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const anonymousRoom = (secret: string) =>
  roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });

/** A MemoryStorage whose loads or appends of chosen rooms fail, as a broken disk or database would. */
class FlakyStorage extends MemoryStorage {
  readonly failLoads = new Set<string>();
  readonly failAppends = new Set<string>();
  override async load(name: string): Promise<Uint8Array[]> {
    if (this.failLoads.has(name)) throw new Error(`load of ${name} failed (test)`);
    return super.load(name);
  }
  override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
    if (this.failAppends.has(name)) throw new Error(`append to ${name} failed (test)`);
    return super.append(name, update, fence);
  }
}

const storage = new FlakyStorage();
/** Authentication of these users waits until the test opens the gate (to send data before admission). */
const gates = new Map<string, Promise<void>>();
let relay: Relay;
let url: string;

beforeAll(async () => {
  relay = createRelay({
    apps: [{ id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] }],
    port: 0,
    storage,
    extensions: [{ name: "gate", onAuthenticate: async ({ room }) => void (await gates.get(room.subject)) }],
  });
  const { port } = await relay.listen();
  url = `ws://127.0.0.1:${port}/v1`;
});

afterAll(async () => {
  await relay.close();
});

/** The message ids stored for `room`, read from the storage itself. */
async function storedIds(room: string): Promise<string[]> {
  const doc = new Y.Doc();
  for (const update of await storage.load(room)) Y.applyUpdate(doc, update);
  return listMessages(doc).map((message) => message.id);
}

/** A sync update frame carrying one user message. */
function messageFrame(id: string): Uint8Array {
  const doc = new Y.Doc();
  messagesOf(doc).push([{ id, role: "user", client: "whoever-client-id-xx", text: "refused?", ts: Date.now() }]);
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc));
  return encoding.toUint8Array(encoder);
}

/** Opens a provider on `room`, writes a message and waits until storage has it. */
async function writeHonestly(room: string, token: string, options: { doc?: Y.Doc; clientSecret?: string } = {}) {
  const honest = openProvider({ url }, room, token, options);
  try {
    await waitFor(() => honest.provider.synced, { what: `honest client synced on ${room}` });
    const id = `honest-${createSecret().slice(0, 12)}`;
    messagesOf(honest.doc).push([{ id, role: "user", client: honest.clientId, text: "still here", ts: Date.now() }]);
    await waitFor(async () => (await storedIds(room)).includes(id), { what: `honest message stored in ${room}` });
    return honest.clientSecret;
  } finally {
    honest.destroy();
  }
}

/** An anonymous visitor who wrote one message (stored), optionally under a chosen Yjs clientID. */
async function visitor(yjsClientId?: number): Promise<{ secret: string; room: string }> {
  const secret = createSecret();
  const doc = new Y.Doc();
  if (yjsClientId !== undefined) doc.clientID = yjsClientId;
  await writeHonestly(anonymousRoom(secret), anonymousToken(secret), { doc });
  return { secret, room: anonymousRoom(secret) };
}

/** Connects raw with `params`, sends a message frame as soon as the socket opens, and waits for the close. */
async function refusedConnect(room: string, params: Record<string, string>, refusedId: string) {
  const client = connectRaw({ url }, room, params);
  client.ws.on("open", () => client.ws.send(messageFrame(refusedId)));
  return client.closed;
}

interface Outcome {
  closed: { code: number; reason: string };
  /** Rooms that must not hold `refusedId` (nor anything else the refused connection carried). */
  rooms: string[];
  refusedId: string;
  /** A room and token an honest client uses afterwards. */
  honest: { room: string; token: string };
}

interface Row {
  name: string;
  code: number;
  reason: CloseReason;
  run(id: string): Promise<Outcome>;
}

const rows: Row[] = [
  {
    name: "a malformed info parameter",
    code: CloseCode.BadRequest,
    reason: "bad-info",
    async run(id) {
      const token = await signUserToken("r-info");
      const params = { token, client: createSecret(), info: "%%%not-base64url" };
      const closed = await refusedConnect(userRoom("r-info"), params, id);
      return { closed, rooms: [userRoom("r-info")], refusedId: id, honest: { room: userRoom("r-info"), token } };
    },
  },
  {
    name: "an info parameter that is not the client info shape",
    code: CloseCode.BadRequest,
    reason: "bad-info",
    async run(id) {
      const token = await signUserToken("r-info2");
      const info = encodeClientInfo({ platform: "x".repeat(500) } as never);
      const closed = await refusedConnect(userRoom("r-info2"), { token, client: createSecret(), info }, id);
      return { closed, rooms: [userRoom("r-info2")], refusedId: id, honest: { room: userRoom("r-info2"), token } };
    },
  },
  {
    name: "merge on an anonymous room",
    code: CloseCode.BadRequest,
    reason: "merge-anonymous",
    async run(id) {
      const anon = await visitor();
      const other = await visitor();
      const params = {
        token: anonymousToken(anon.secret),
        client: createSecret(),
        merge: anonymousToken(other.secret),
      };
      const closed = await refusedConnect(anon.room, params, id);
      return {
        closed,
        rooms: [anon.room, other.room],
        refusedId: id,
        honest: { room: anon.room, token: anonymousToken(anon.secret) },
      };
    },
  },
  {
    name: "a malformed merge parameter",
    code: CloseCode.BadRequest,
    reason: "bad-merge",
    async run(id) {
      const token = await signUserToken("r-badmerge");
      const closed = await refusedConnect(
        userRoom("r-badmerge"),
        { token, client: createSecret(), merge: "anon.x" },
        id,
      );
      const rooms = [userRoom("r-badmerge")];
      return { closed, rooms, refusedId: id, honest: { room: userRoom("r-badmerge"), token } };
    },
  },
  {
    name: "a merge of an anonymous user already merged into another user",
    code: CloseCode.Forbidden,
    reason: "merged",
    async run(id) {
      const anon = await visitor();
      const first = await signUserToken("r-merge-first");
      await writeHonestly(userRoom("r-merge-first"), first);
      const merged = openProvider({ url }, userRoom("r-merge-first"), first, {
        params: { merge: anonymousToken(anon.secret) },
      });
      await waitFor(() => merged.provider.synced, { what: "the first merge" });
      merged.destroy();
      const token = await signUserToken("r-merge-second");
      const params = { token, client: createSecret(), merge: anonymousToken(anon.secret) };
      const closed = await refusedConnect(userRoom("r-merge-second"), params, id);
      const rooms = [userRoom("r-merge-second"), userRoom("r-merge-first"), anon.room];
      return { closed, rooms, refusedId: id, honest: { room: userRoom("r-merge-second"), token } };
    },
  },
  {
    name: "a merge of an anonymous user who logged out",
    code: CloseCode.Forbidden,
    reason: "revoked",
    async run(id) {
      const anon = await visitor();
      const leaving = connectRaw({ url }, anon.room, { token: anonymousToken(anon.secret), client: createSecret() });
      await leaving.opened;
      leaving.ws.send(new Uint8Array([MessageType.logout]));
      expect((await leaving.closed).code).toBe(CloseCode.Normal);
      const token = await signUserToken("r-merge-revoked");
      const params = { token, client: createSecret(), merge: anonymousToken(anon.secret) };
      const closed = await refusedConnect(userRoom("r-merge-revoked"), params, id);
      return {
        closed,
        rooms: [userRoom("r-merge-revoked"), anon.room],
        refusedId: id,
        honest: { room: userRoom("r-merge-revoked"), token },
      };
    },
  },
  {
    name: "an owner conflict during a merge (a Yjs clientID owned by another client in the user document)",
    code: CloseCode.Authorship,
    reason: "merge",
    async run(id) {
      const yjsClientId = 700_000 + Math.floor(Math.random() * 100_000);
      const token = await signUserToken("r-owner");
      const doc = new Y.Doc();
      doc.clientID = yjsClientId;
      await writeHonestly(userRoom("r-owner"), token, { doc });
      const anon = await visitor(yjsClientId);
      const owners = new Y.Doc();
      for (const update of await storage.load(userRoom("r-owner"))) Y.applyUpdate(owners, update);
      expect(ownersOf(owners).get(String(yjsClientId))).toBeDefined();
      const anonymousIds = await storedIds(anon.room);
      const params = { token, client: createSecret(), merge: anonymousToken(anon.secret) };
      const closed = await refusedConnect(userRoom("r-owner"), params, id);
      // The anonymous messages did not reach the user document either.
      for (const anonymousId of anonymousIds) expect(await storedIds(userRoom("r-owner"))).not.toContain(anonymousId);
      return {
        closed,
        rooms: [userRoom("r-owner"), anon.room],
        refusedId: id,
        honest: { room: userRoom("r-owner"), token },
      };
    },
  },
  {
    name: "a room that cannot be loaded from storage (1011)",
    code: CloseCode.InternalError,
    reason: "internal",
    async run(id) {
      const token = await signUserToken("r-load");
      storage.failLoads.add(userRoom("r-load"));
      try {
        const closed = await refusedConnect(userRoom("r-load"), { token, client: createSecret() }, id);
        return { closed, rooms: [userRoom("r-load")], refusedId: id, honest: { room: userRoom("r-load"), token } };
      } finally {
        storage.failLoads.delete(userRoom("r-load"));
      }
    },
  },
  {
    name: "a storage write that fails (1011, the room drops and reloads)",
    code: CloseCode.InternalError,
    reason: "storage",
    async run(id) {
      const token = await signUserToken("r-write");
      await writeHonestly(userRoom("r-write"), token);
      const writer = openProvider({ url }, userRoom("r-write"), token);
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        writer.provider.ws?.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
      );
      try {
        await waitFor(() => writer.provider.synced, { what: "writer synced" });
        storage.failAppends.add(userRoom("r-write"));
        messagesOf(writer.doc).push([{ id, role: "user", client: writer.clientId, text: "lost?", ts: Date.now() }]);
        const result = await closed;
        return {
          closed: result,
          rooms: [userRoom("r-write")],
          refusedId: id,
          honest: { room: userRoom("r-write"), token },
        };
      } finally {
        writer.destroy();
        storage.failAppends.delete(userRoom("r-write"));
      }
    },
  },
  {
    name: "too much data before admission (4413)",
    code: CloseCode.TooLarge,
    reason: "early-data",
    async run(id) {
      const token = await signUserToken("r-early");
      let open = () => {};
      gates.set("r-early", new Promise<void>((resolve) => (open = resolve)));
      try {
        const client: RawClient = connectRaw({ url }, userRoom("r-early"), { token, client: createSecret() });
        await client.opened;
        client.ws.send(messageFrame(id));
        for (let i = 0; i < 1100; i++) client.ws.send(new Uint8Array([3]));
        const closed = await client.closed;
        return { closed, rooms: [userRoom("r-early")], refusedId: id, honest: { room: userRoom("r-early"), token } };
      } finally {
        open();
        gates.delete("r-early");
      }
    },
  },
];

describe("admission and merge refusals", () => {
  for (const row of rows) {
    it(`${row.name}: ${row.code} ${row.reason}, nothing stored, an honest client keeps working`, async () => {
      const id = `refused-${row.reason}-${createSecret().slice(0, 8)}`;
      const outcome = await row.run(id);

      expect(outcome.closed.code).toBe(row.code);
      expect(parseCloseReason(outcome.closed.code, outcome.closed.reason).reason).toBe(row.reason);
      const error = errorForClose(outcome.closed.code, outcome.closed.reason) as ParleyError & { reason?: unknown };
      if (error instanceof RelayError) expect(error.closeCode).toBe(row.code);
      else expect(error.code).toBe(errorCodeForClose(row.code));
      expect(error.reason).toBe(row.reason);

      for (const room of outcome.rooms) expect(await storedIds(room)).not.toContain(outcome.refusedId);
      await writeHonestly(outcome.honest.room, outcome.honest.token);
    });
  }
});
