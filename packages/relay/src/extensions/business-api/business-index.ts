/**
 * The conversation list behind `GET /v1/apps/<appId>/users`: an app's conversations, newest activity first (then
 * room name descending), a page at a time, continuing strictly after a position. Two ways to answer it:
 *
 * - {@link IndexedList}, when the storage offers the `ConversationIndex` capability (PostgreSQL): one indexed read
 *   per page, no document loaded. The entries are written by each room's owner (business-summaries.ts). Documents
 *   without an entry — stored before the index existed — are summarized once, the first time this node lists the
 *   app: their rooms are loaded here, which writes their entries.
 * - {@link ScanningList} otherwise (the file store, memory): every stored conversation of the app is summarized,
 *   then sorted. A document changes only while its room is loaded, and every change goes through the room's
 *   document, so a summary stays valid until the next update of that room: each loaded room drops its summary on
 *   every update. A conversation without one (never listed since the relay started, or changed since) is loaded
 *   and summarized once. The first listing after a start reads every conversation of the app.
 *
 * With several relay nodes, a room another node serves cannot be loaded here (`FencedError`): the scanning list
 * summarizes what storage holds of it (durable, so at most a moment behind its owner) and keeps nothing; the
 * indexed list leaves an unindexed one to its owner, whose load writes its entry.
 */
import { type ConversationSummary, FencedError, parseRoomName, type RoomRef, roomNamePrefix } from "@parley/protocol";
import * as Y from "yjs";
import type { RoomHandle as Room, RoomOpener } from "../../core/extension.js";
import { type ConversationIndex, type ConversationPosition, comesBefore } from "../../storage/conversation-index.js";
import type { ListPage, RelayStorage } from "../../storage/storage.js";
import type { SummaryWriter } from "./business-summaries.js";
import { subjectExists, summarize } from "./business-view.js";

/** One page of the list. */
export interface ListedConversations {
  summaries: ConversationSummary[];
  /** Where the next page starts, or `null` after the last one. */
  next: ConversationPosition | null;
}

/** An app's conversations, newest activity first. */
export interface ConversationList {
  /** Up to `limit` conversations of `appId` (of `kind`, or both) after `cursor`. */
  page(
    appId: string,
    kind: "user" | "anonymous" | null,
    cursor: ConversationPosition | undefined,
    limit: number,
  ): Promise<ListedConversations>;
}

async function* names(storage: { list: RelayStorage["list"] }, prefix: string): AsyncGenerator<string> {
  let cursor: string | null = null;
  do {
    const page: ListPage = await storage.list(prefix, cursor === null ? {} : { cursor });
    yield* page.names;
    cursor = page.cursor;
  } while (cursor !== null);
}

/** Runs `work` on the room `name` loaded here; `false` if another relay node serves it. */
async function withLoaded(rooms: RoomOpener, name: string, work: (room: Room) => Promise<void>): Promise<boolean> {
  const room = await rooms.open(name).catch((error: unknown) => {
    if (error instanceof FencedError) return null;
    throw error;
  });
  if (room === null) return false;
  const release = room.hold();
  try {
    await work(room);
  } finally {
    release();
  }
  return true;
}

/** The list read from the storage's conversation index. */
export class IndexedList implements ConversationList {
  /** Apps whose unindexed documents this node has summarized (or is summarizing). */
  private readonly repaired = new Map<string, Promise<void>>();

  constructor(
    private readonly index: ConversationIndex,
    private readonly rooms: RoomOpener,
    private readonly writer: SummaryWriter,
  ) {}

  async page(
    appId: string,
    kind: "user" | "anonymous" | null,
    cursor: ConversationPosition | undefined,
    limit: number,
  ): Promise<ListedConversations> {
    await this.repair(appId);
    const page = await this.index.page(appId, kind, cursor === undefined ? { limit } : { limit, cursor });
    return { summaries: page.entries.map((entry) => entry.summary), next: page.next };
  }

  /** Once per app and node: loads the rooms of stored documents without an entry, which writes their entries. */
  private repair(appId: string): Promise<void> {
    let repairing = this.repaired.get(appId);
    if (repairing === undefined) {
      repairing = (async () => {
        const index = this.index;
        for await (const name of names(
          { list: (prefix, options) => index.unindexed(prefix, options) },
          roomNamePrefix(appId),
        )) {
          await withLoaded(this.rooms, name, (room) => this.writer.flush(room));
        }
      })();
      this.repaired.set(appId, repairing);
      // A failure is the caller's answer this time; the next listing tries again.
      repairing.catch(() => this.repaired.delete(appId));
    }
    return repairing;
  }
}

/** The list computed from the stored documents, with summaries kept in memory and invalidated by updates. */
export class ScanningList implements ConversationList {
  private readonly summaries = new Map<string, ConversationSummary | null>();

  constructor(
    private readonly rooms: RoomOpener,
    private readonly storage: RelayStorage,
  ) {}

  /** Drops the room's summary whenever its document changes. Call once per loaded room. */
  watch(room: Room): void {
    room.doc.on("update", () => this.summaries.delete(room.name));
  }

  async page(
    appId: string,
    kind: "user" | "anonymous" | null,
    cursor: ConversationPosition | undefined,
    limit: number,
  ): Promise<ListedConversations> {
    const position = (entry: { name: string; summary: ConversationSummary }): ConversationPosition => ({
      lastActivity: entry.summary.lastActivity,
      name: entry.name,
    });
    const sorted = (await this.all(appId, kind))
      .filter((entry) => cursor === undefined || comesBefore(cursor, position(entry)))
      .sort((a, b) => (comesBefore(position(a), position(b)) ? -1 : 1));
    const page = sorted.slice(0, limit);
    const last = page.at(-1);
    return {
      summaries: page.map((entry) => entry.summary),
      next: sorted.length > limit && last !== undefined ? position(last) : null,
    };
  }

  /** Every conversation of `appId` (optionally of one kind) that has anything stored. */
  private async all(
    appId: string,
    kind: "user" | "anonymous" | null,
  ): Promise<Array<{ name: string; summary: ConversationSummary }>> {
    const result: Array<{ name: string; summary: ConversationSummary }> = [];
    for await (const name of names(this.storage, roomNamePrefix(appId, kind ?? undefined))) {
      const ref = parseRoomName(name);
      if (ref === null || ref.appId !== appId || (kind !== null && ref.kind !== kind)) continue;
      let summary = this.summaries.get(name);
      if (summary === undefined) {
        let kept: ConversationSummary | null | undefined;
        const loaded = await withLoaded(this.rooms, name, async (room) => {
          // Synchronous from here to the set, so no update can slip in between.
          kept = subjectExists(room.doc) ? summarize(ref, room.doc) : null;
          this.summaries.set(name, kept);
        });
        summary = loaded ? kept : await this.summarizeStored(name, ref);
      }
      if (summary !== null && summary !== undefined) result.push({ name, summary });
    }
    return result;
  }

  /** The summary of what storage holds of `name`, without loading (or claiming) the room. */
  private async summarizeStored(name: string, ref: RoomRef): Promise<ConversationSummary | null> {
    const doc = new Y.Doc();
    try {
      for (const update of await this.storage.load(name)) Y.applyUpdate(doc, update);
      return subjectExists(doc) ? summarize(ref, doc) : null;
    } finally {
      doc.destroy();
    }
  }
}
