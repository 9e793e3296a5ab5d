/**
 * Newest messages first: a new client of a long thread shows the relay's `recent` preview before its full
 * sync has landed, then the real document takes over. The thread size is an env knob
 * (PARLEY_LONG_THREAD_MESSAGES, default 20,000; the product target is 100,000).
 */
import { type ConversationMessage, createClient, memoryStorage, type ParleyClient } from "@parley/client";
import {
  clientIdFromSecret,
  createSecret,
  MessageType,
  messagesOf,
  type RecentPreview,
  readRecent,
  roomName,
  type UserMessageRecord,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { api } from "./business-support.js";
import { connectRaw, openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const COUNT = Number(process.env.PARLEY_LONG_THREAD_MESSAGES ?? 20_000);
const USER = "long-thread-user";
const room = roomName({ appId: TEST_APP.id, kind: "user", subject: USER });

/** Writes `COUNT` user messages in chunks whose array order is the reverse of their display order. */
function longThread(clientId: string): { doc: Y.Doc; ids: string[] } {
  const doc = new Y.Doc();
  const base = Date.now() - COUNT * 10;
  const chunk = 1_000;
  for (let start = Math.floor((COUNT - 1) / chunk) * chunk; start >= 0; start -= chunk) {
    const records: UserMessageRecord[] = [];
    for (let i = start; i < Math.min(start + chunk, COUNT); i++) {
      records.push({
        id: `msg-${String(i).padStart(7, "0")}`,
        role: "user",
        client: clientId,
        text: `m${i}`,
        ts: base + i * 10,
      });
    }
    messagesOf(doc).push(records);
  }
  const ids = Array.from({ length: COUNT }, (_, i) => `msg-${String(i).padStart(7, "0")}`);
  return { doc, ids };
}

/** Frames a raw connection receives, decoded far enough to tell them apart. */
function frameTypes(frames: Uint8Array[]): number[] {
  return frames.map((frame) => decoding.readVarUint(decoding.createDecoder(frame)));
}

function previewIn(frames: Uint8Array[]): RecentPreview {
  const frame = frames.find((f) => decoding.readVarUint(decoding.createDecoder(f)) === MessageType.recent);
  if (frame === undefined) throw new Error("no recent frame");
  const decoder = decoding.createDecoder(frame);
  decoding.readVarUint(decoder);
  return readRecent(decoder);
}

describe(`newest messages first (${COUNT} messages)`, () => {
  let relay: RelayHandle;
  let ids: string[];
  const clients: ParleyClient[] = [];

  beforeAll(async () => {
    relay = await startRelay({ extraConfig: { maxFrameBytes: 128 * 1024 * 1024, fsync: "off" } });
    const clientSecret = createSecret();
    const thread = longThread(clientIdFromSecret(clientSecret));
    ids = thread.ids;
    const token = await signUserToken(USER);
    const writer = openProvider(relay, room, token, { clientSecret, doc: thread.doc });
    try {
      await waitFor(() => writer.provider.synced, { what: "the writer synced", timeoutMs: 120_000 });
      // The relay stored the whole thread once a fresh reader's preview ends with its newest message.
      await waitFor(
        async () => {
          const probe = connectRaw(relay, room, { token, client: createSecret(), tail: "1" });
          await waitFor(() => probe.frames.length > 0, { what: "a frame" });
          probe.ws.close();
          return previewIn(probe.frames).messages[0]?.id === ids.at(-1);
        },
        { what: "the relay stored the thread", timeoutMs: 120_000 },
      );
    } finally {
      writer.destroy();
    }
  }, 240_000);

  afterAll(async () => {
    for (const client of clients.splice(0)) await client.destroy().catch(() => {});
    await relay?.stop();
  });

  it("sends the preview before its sync step 1, in display order, and refreshes it when a message arrives", async () => {
    const token = await signUserToken(USER);
    const first = connectRaw(relay, room, { token, client: createSecret(), tail: "3" });
    await waitFor(() => first.frames.length >= 2, { what: "two frames" });
    first.ws.close();
    expect(frameTypes(first.frames).slice(0, 2)).toEqual([MessageType.recent, MessageType.sync]);
    const preview = previewIn(first.frames);
    expect(preview.messages.map((m) => m.id)).toEqual(ids.slice(-3));
    expect(preview.reads).toEqual({ user: 0, business: 0 });

    const reply = await api(relay, "POST", `users/${USER}/messages`, {
      body: { id: "business-reply-1", text: "on it" },
    });
    expect(reply.status).toBe(201);
    const second = connectRaw(relay, room, { token, client: createSecret(), tail: "3" });
    await waitFor(() => second.frames.length >= 1, { what: "a frame" });
    second.ws.close();
    expect(previewIn(second.frames).messages.map((m) => m.id)).toEqual([...ids.slice(-2), "business-reply-1"]);
    ids.push("business-reply-1");
  });

  it("refuses a tail beyond 200 with 4400", async () => {
    const token = await signUserToken(USER);
    const raw = connectRaw(relay, room, { token, client: createSecret(), tail: "201" });
    expect((await raw.closed).code).toBe(4400);
  });

  it("a new client's first messages are the newest 50, shown as sent before its full sync, then the whole thread", async () => {
    const client = createClient({ appId: TEST_APP.id, relayUrl: relay.url, storage: memoryStorage(), WebSocket });
    clients.push(client);
    const seen: Array<{ messages: ConversationMessage[]; synced: boolean }> = [];
    client.on("messages", (messages) => {
      const identity = client.identity;
      seen.push({ messages, synced: identity.kind === "user" && identity.authenticated });
    });
    const { authenticated } = await client.login(USER, await signUserToken(USER), {});
    expect(authenticated).toBe(true);
    await waitFor(() => client.messages().length === ids.length, { what: "the full thread", timeoutMs: 60_000 });

    const firstShown = seen.find((event) => event.messages.length > 0);
    expect(firstShown?.synced).toBe(false);
    expect(firstShown?.messages.map((m) => m.id)).toEqual(ids.slice(-50));
    expect(firstShown?.messages.every((m) => m.status === "sent" && !m.mine)).toBe(true);
    expect(firstShown?.messages.at(-1)).toMatchObject({ role: "business", text: "on it", readByBusiness: true });
    // Then the document took over: the whole history, in the same order, ending with what the preview showed.
    const all = client.messages();
    expect(all.map((m) => m.id)).toEqual(ids);
    expect(seen.at(-1)?.messages.length).toBe(ids.length);
  }, 120_000);
});
