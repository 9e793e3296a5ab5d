/**
 * The in-memory twin of the {@link ConversationIndex} capability, for tests and for `MemoryStorage` (opt-in:
 * `new MemoryStorage({ conversationIndex: true })`). Same contract as the PostgreSQL index, fenced by the
 * storage's own fences; a page sorts the app's entries (fine for what fits in memory).
 */
import { type ConversationSummary, FencedError, roomNamePrefix } from "@parley/protocol";
import {
  assertIndexEntry,
  assertPageArguments,
  type ConversationIndex,
  type ConversationIndexPage,
  type ConversationIndexPageOptions,
  comesBefore,
} from "./conversation-index.js";
import { type Fence, type ListOptions, type ListPage, pageOf } from "./storage.js";

/** What the index needs of its storage. */
export interface MemoryIndexMedium {
  /** The newest fence handed out for `name`, if any. */
  fenceOf(name: string): Fence | undefined;
  /** Names of the stored documents. */
  storedNames(): Iterable<string>;
}

/** A {@link ConversationIndex} in memory, beside a storage's documents and fences. */
export class MemoryConversationIndex implements ConversationIndex {
  private readonly entries = new Map<string, ConversationSummary | null>();

  constructor(private readonly medium: MemoryIndexMedium) {}

  async put(name: string, summary: ConversationSummary | null, fence: Fence): Promise<void> {
    assertIndexEntry(name, summary, fence);
    this.check(name, fence);
    // A copy: the caller's object may change after the call, as a stored row would not.
    this.entries.set(name, summary === null ? null : structuredClone(summary));
  }

  async remove(name: string, fence: Fence): Promise<void> {
    assertIndexEntry(name, null, fence);
    this.check(name, fence);
    this.entries.delete(name);
  }

  async page(
    appId: string,
    kind: "user" | "anonymous" | null,
    options: ConversationIndexPageOptions,
  ): Promise<ConversationIndexPage> {
    assertPageArguments(appId, kind, options);
    const prefix = roomNamePrefix(appId, kind ?? undefined);
    const { cursor, limit } = options;
    const matching: Array<{ name: string; summary: ConversationSummary }> = [];
    for (const [name, summary] of this.entries) {
      if (summary === null || !name.startsWith(prefix)) continue;
      if (cursor !== undefined && !comesBefore(cursor, { lastActivity: summary.lastActivity, name })) continue;
      matching.push({ name, summary: structuredClone(summary) });
    }
    const position = (entry: { name: string; summary: ConversationSummary }) => ({
      lastActivity: entry.summary.lastActivity,
      name: entry.name,
    });
    matching.sort((a, b) => (comesBefore(position(a), position(b)) ? -1 : 1));
    const entries = matching.slice(0, limit);
    const last = entries.at(-1);
    return { entries, next: matching.length > limit && last !== undefined ? position(last) : null };
  }

  async unindexed(prefix: string, options?: ListOptions): Promise<ListPage> {
    const names = [...this.medium.storedNames()].filter((name) => !this.entries.has(name));
    return pageOf(names, prefix, options);
  }

  private check(name: string, fence: Fence): void {
    if (this.medium.fenceOf(name) !== fence) throw new FencedError(name);
  }
}
