/**
 * The conversation index writer on real rooms over a MemoryStorage with its index: a loaded room's entry is written
 * once its first change is durable, a chatty room writes once per interval (the interval is a minute here, so "not
 * yet" never depends on the machine's speed), a flush writes at once, an unload writes what is owed, a room that
 * lost its fence overwrites nothing, and nothing is written while the document holds changes not yet durable.
 */
import { roomName } from "@parley/protocol";
import { describe, expect, it, vi } from "vitest";
import type { RelayExtension } from "../../core/extension.js";
import { Extensions } from "../../core/extensions.js";
import { silentLogger } from "../../core/logger.js";
import type { Room } from "../../core/room.js";
import { Rooms } from "../../core/rooms.js";
import type { ConversationIndex } from "../../storage/conversation-index.js";
import { MemoryStorage } from "../../storage/storage.js";
import { SummaryWriter } from "./business-summaries.js";
import { appendBusinessMessage, parseBusinessMessage } from "./business-writes.js";

const NAME = roomName({ appId: "app", kind: "user", subject: "ann" });
const MINUTE = 60_000;

/** A MemoryStorage with the index, whose appends wait while `gated` until the test opens them. */
class Storage extends MemoryStorage {
  gated = false;
  private readonly gates: Array<() => void> = [];
  readonly puts: Array<{ messageCount: number | null }> = [];

  constructor() {
    super({ conversationIndex: true });
  }

  override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
    if (this.gated) await new Promise<void>((resolve) => this.gates.push(resolve));
    await super.append(name, update, fence);
  }

  open(): void {
    this.gated = false;
    for (const gate of this.gates.splice(0)) gate();
  }

  /** The index, recording each put that was stored. */
  get index(): ConversationIndex {
    const index = this.conversationIndex!;
    return {
      put: async (name, summary, fence) => {
        await index.put(name, summary, fence);
        this.puts.push({ messageCount: summary?.messageCount ?? null });
      },
      remove: (name, fence) => index.remove(name, fence),
      page: (appId, kind, options) => index.page(appId, kind, options),
      unindexed: (prefix, options) => index.unindexed(prefix, options),
    };
  }

  async listed(): Promise<Array<string | undefined>> {
    const page = await this.conversationIndex!.page("app", null, { limit: 10 });
    return page.entries.map((entry) => entry.summary.lastMessage?.text);
  }
}

function setup(): { storage: Storage; rooms: Rooms; writer: SummaryWriter } {
  const storage = new Storage();
  const writer = new SummaryWriter(storage.index, silentLogger, MINUTE);
  const extension: RelayExtension = {
    name: "summaries",
    onRoomLoaded: (room) => writer.loaded(room),
    onStored: ({ room }) => writer.stored(room),
    onRoomUnloaded: (room) => writer.unloaded(room),
  };
  const extensions = new Extensions([extension], silentLogger);
  return { storage, rooms: new Rooms({ storage, logger: silentLogger, graceMs: MINUTE, extensions }), writer };
}

async function say(room: Room, text: string): Promise<void> {
  await room.transactAsRelay((doc) => {
    appendBusinessMessage(doc, parseBusinessMessage({ text }), Date.now());
  });
}

/** Lets timers due now and pending promise chains run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("SummaryWriter", () => {
  it("writes a room's first change at once, then once per interval however chatty, and at once when flushed", async () => {
    const { storage, rooms, writer } = setup();
    const room = await rooms.open(NAME);
    await settle();
    expect(storage.puts).toEqual([]); // nothing stored: nothing to index
    await say(room, "first");
    await vi.waitFor(() => expect(storage.puts).toEqual([{ messageCount: 1 }]));
    for (let i = 0; i < 10; i++) await say(room, `more ${i}`);
    await settle();
    expect(storage.puts.length).toBe(1);
    await writer.flush(room);
    expect(storage.puts).toEqual([{ messageCount: 1 }, { messageCount: 11 }]);
    expect(await storage.listed()).toEqual(["more 9"]);
    await say(room, "owed at unload");
    await rooms.close(1001, "shutdown");
    await writer.close();
    expect(storage.puts.at(-1)).toEqual({ messageCount: 12 });
    expect(await storage.listed()).toEqual(["owed at unload"]);
  });

  it("overwrites nothing once another writer claimed the room", async () => {
    const { storage, rooms, writer } = setup();
    const room = await rooms.open(NAME);
    await say(room, "from the old owner");
    await writer.flush(room);
    const fence = await storage.claim(NAME);
    const summary = (await storage.conversationIndex!.page("app", null, { limit: 1 })).entries[0]!.summary;
    await storage.conversationIndex!.put(NAME, { ...summary, lastMessage: null }, fence);
    // The old room has not noticed yet (it has not written since): its summary is refused.
    expect(room.isOpen).toBe(true);
    await writer.flush(room);
    expect(storage.puts.length).toBe(1);
    expect(await storage.listed()).toEqual([undefined]);
  });

  it("writes nothing while the document holds changes that are not durable yet", async () => {
    const { storage, rooms, writer } = setup();
    const room = await rooms.open(NAME);
    await say(room, "durable");
    await writer.flush(room);
    storage.gated = true;
    const pending = say(room, "in flight");
    const flushed = writer.flush(room);
    await settle();
    expect(storage.puts.length).toBe(1);
    storage.open();
    await pending;
    await flushed;
    expect(storage.puts.length).toBe(2);
    expect(await storage.listed()).toEqual(["in flight"]);
  });
});
