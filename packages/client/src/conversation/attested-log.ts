/**
 * The attested updates a conversation received and the relay has not reported stored yet: what the client
 * hands back if the relay crashed after forwarding them (see `attestation.ts` in @parley/protocol).
 *
 * Kept in memory and saved under `attested/<room>` in the client's store (coalesced-write.ts), so a client
 * restarted while the relay lost them still holds their tags next to the structs its document persisted.
 */
import { type AttestedUpdate, isCoveredBy } from "@parley/protocol";
import { CoalescedWrite } from "../storage/coalesced-write.js";
import type { ClientStorage, StoredValue } from "../storage/storage.js";

/** Storage key of a room's attested updates. */
export function attestedKey(room: string): string {
  return `attested/${room}`;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Reads what {@link AttestedLog} saved; an unreadable record counts as none (the tags are only a fallback). */
function decode(saved: StoredValue | undefined): AttestedUpdate[] {
  if (!Array.isArray(saved)) return [];
  const entries: AttestedUpdate[] = [];
  for (const entry of saved) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "string") continue;
    try {
      entries.push({ update: fromBase64(entry[0]), tag: fromBase64(entry[1]) });
    } catch {
      // Not base64: skip it, keep the rest.
    }
  }
  return entries;
}

export class AttestedLog {
  private entries: AttestedUpdate[] = [];
  /** The newest stored state this log was told of (merged): what is no longer worth keeping, from anyone. */
  private readonly stored = new Map<number, number>();
  private readonly saves = new CoalescedWrite(async () => {
    // Other instances on the same store (tabs) save their own entries under this key: keep theirs that are not
    // stored yet, so that the last save does not erase another tab's.
    const mine = new Set(this.entries.map((entry) => toBase64(entry.tag)));
    const theirs = decode(await this.storage.get(attestedKey(this.room))).filter(
      (entry) => !mine.has(toBase64(entry.tag)) && !isCoveredBy(entry.update, this.stored),
    );
    const value = [...this.entries, ...theirs].map((entry) => [toBase64(entry.update), toBase64(entry.tag)]);
    return value.length === 0
      ? this.storage.delete(attestedKey(this.room))
      : this.storage.set(attestedKey(this.room), value);
  });

  private constructor(
    private readonly storage: ClientStorage,
    private readonly room: string,
  ) {}

  /** The log of `room` as last saved. */
  static async open(storage: ClientStorage, room: string): Promise<AttestedLog> {
    const log = new AttestedLog(storage, room);
    log.entries = decode(await storage.get(attestedKey(room)));
    return log;
  }

  /** Number of updates kept. */
  get size(): number {
    return this.entries.length;
  }

  /** Keeps an attested update the relay forwarded. */
  add(entry: AttestedUpdate): void {
    this.entries.push(entry);
    this.saves.schedule();
  }

  /** Lets go of the updates `stored` covers: the relay holds them durably. */
  prune(stored: Map<number, number>): void {
    for (const [client, clock] of stored) {
      if ((this.stored.get(client) ?? 0) < clock) this.stored.set(client, clock);
    }
    const kept = this.entries.filter((entry) => !isCoveredBy(entry.update, stored));
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.saves.schedule();
  }

  /** The updates a relay with `stateVector` lacks, in the order they were received. */
  missingFrom(stateVector: Map<number, number>): AttestedUpdate[] {
    return this.entries.filter((entry) => !isCoveredBy(entry.update, stateVector));
  }

  /** Resolves once every save issued so far has settled. */
  settled(): Promise<void> {
    return this.saves.settled();
  }
}
