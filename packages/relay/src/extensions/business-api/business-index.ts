/**
 * The conversation index behind `GET /v1/apps/<appId>/users`: a summary per stored conversation, so that
 * listing by newest activity does not load every document on every call.
 *
 * A document changes only while its room is loaded, and every change goes through the room's document,
 * so a summary stays valid until the next update of that room: each loaded room drops its entry on every
 * update. A conversation without an entry (never listed since the relay started, or changed since) is
 * loaded and summarized once. The first listing after a start still reads every conversation of the app;
 * storage lists only the app's room names (by their prefix), page by page.
 *
 * With several relay nodes, a room another node serves cannot be loaded here (`FencedError`): its summary is
 * read from what storage holds (durable, so at most a moment behind its owner) and not kept, since that
 * node's changes do not reach this index.
 */
import { FencedError, parseRoomName, type RoomRef, roomNamePrefix } from "@parley/protocol";
import * as Y from "yjs";
import type { RoomHandle as Room, RoomOpener } from "../../core/extension.js";
import type { ListPage, RelayStorage } from "../../storage/storage.js";
import { type ConversationSummary, subjectExists, summarize } from "./business-view.js";

/** Summaries of stored conversations, invalidated by updates. */
export class ConversationIndex {
  private readonly summaries = new Map<string, ConversationSummary | null>();

  constructor(
    private readonly rooms: RoomOpener,
    private readonly storage: RelayStorage,
  ) {}

  /** Drops the room's summary whenever its document changes. Call once per loaded room. */
  watch(room: Room): void {
    room.doc.on("update", () => this.summaries.delete(room.name));
  }

  /** Every conversation of `appId` (optionally of one kind) that has anything stored. */
  async list(
    appId: string,
    kind: "user" | "anonymous" | null,
  ): Promise<Array<{ name: string; summary: ConversationSummary }>> {
    const result: Array<{ name: string; summary: ConversationSummary }> = [];
    for await (const name of this.names(roomNamePrefix(appId, kind ?? undefined))) {
      const ref = parseRoomName(name);
      if (ref === null || ref.appId !== appId || (kind !== null && ref.kind !== kind)) continue;
      let summary = this.summaries.get(name);
      if (summary === undefined) {
        const room = await this.rooms.open(name).catch((error: unknown) => {
          if (error instanceof FencedError) return null; // served by another relay node
          throw error;
        });
        if (room === null) summary = await this.summarizeStored(name, ref);
        else {
          const release = room.hold();
          try {
            // Synchronous from here to the set, so no update can slip in between.
            summary = subjectExists(room.doc) ? summarize(ref, room.doc) : null;
            this.summaries.set(name, summary);
          } finally {
            release();
          }
        }
      }
      if (summary !== null) result.push({ name, summary });
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

  private async *names(prefix: string): AsyncGenerator<string> {
    let cursor: string | null = null;
    do {
      const page: ListPage = await this.storage.list(prefix, cursor === null ? {} : { cursor });
      yield* page.names;
      cursor = page.cursor;
    } while (cursor !== null);
  }
}
