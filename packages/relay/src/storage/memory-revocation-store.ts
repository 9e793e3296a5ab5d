/**
 * The in-memory twin of the {@link RevocationStore} capability, for tests and for `MemoryStorage` (opt-in:
 * `new MemoryStorage({ revocations: true })`). Same contract as the PostgreSQL table (revocation-store.ts),
 * with the process as its only medium: a claim is a synchronous check-and-set, so the first one wins.
 */
import {
  type AnonymousRevocation,
  assertRevocationArguments,
  type ClaimedByPage,
  claimedByQuery,
  type RevocationStore,
} from "./revocation-store.js";

/** A {@link RevocationStore} in memory. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly records = new Map<string, AnonymousRevocation>();

  async claim(room: string, mergedInto?: string): Promise<AnonymousRevocation> {
    assertRevocationArguments(room, mergedInto);
    const existing = this.records.get(room);
    if (existing !== undefined) return { ...existing };
    const record: AnonymousRevocation = mergedInto === undefined ? {} : { mergedInto };
    this.records.set(room, record);
    return { ...record };
  }

  async claimedBy(appId: string, userId: string, page?: ClaimedByPage): Promise<string[]> {
    const query = claimedByQuery(appId, userId, page);
    if (query === undefined) return [];
    const rooms: string[] = [];
    for (const [room, record] of this.records) {
      if (record.mergedInto === query.userId && room > query.after && room < query.end) rooms.push(room);
    }
    return rooms.sort().slice(0, query.limit);
  }

  async erase(room: string): Promise<void> {
    assertRevocationArguments(room);
    this.records.set(room, {});
  }

  async lookup(room: string): Promise<AnonymousRevocation | undefined> {
    assertRevocationArguments(room);
    const record = this.records.get(room);
    return record === undefined ? undefined : { ...record };
  }
}
