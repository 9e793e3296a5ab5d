/**
 * The awareness (presence) counterpart of the authorship check. Awareness is never stored, but every
 * client in the room shows it, so a connection may set or clear only the awareness states it introduced:
 * entries for another connection's (or the relay's) clientID are dropped — silently, because a stock
 * y-websocket provider echoes every awareness change it receives back to the server — and a connection
 * showing the business typing is refused (only the relay publishes that, for the business API).
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/** Who controls an awareness clientID: this connection, another one (or the relay), or nobody yet. */
export type AwarenessOwner = "self" | "other" | undefined;

/** What to do with an awareness update. */
export type AwarenessVerdict =
  /** Apply `update` (the entries this connection may set); `null` if nothing is left. */
  { ok: true; update: Uint8Array | null } | { ok: false; reason: string };

interface Entry {
  clientID: number;
  clock: number;
  json: string;
}

function readEntries(update: Uint8Array): Entry[] {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const clientID = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    entries.push({ clientID, clock, json: decoding.readVarString(decoder) });
  }
  return entries;
}

function showsBusinessTyping(state: unknown): boolean {
  if (state === null || typeof state !== "object") return false;
  const typing = (state as { typing?: unknown }).typing;
  return typing !== null && typeof typing === "object" && (typing as { role?: unknown }).role === "business";
}

/** Filters an awareness update from a connection. Throws if it cannot be decoded. */
export function checkAwarenessUpdate(
  update: Uint8Array,
  ownerOf: (clientID: number) => AwarenessOwner,
): AwarenessVerdict {
  const kept: Entry[] = [];
  for (const entry of readEntries(update)) {
    if (ownerOf(entry.clientID) === "other") continue;
    if (showsBusinessTyping(JSON.parse(entry.json)))
      return { ok: false, reason: "only the relay shows the business typing" };
    kept.push(entry);
  }
  if (kept.length === 0) return { ok: true, update: null };
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, kept.length);
  for (const entry of kept) {
    encoding.writeVarUint(encoder, entry.clientID);
    encoding.writeVarUint(encoder, entry.clock);
    encoding.writeVarString(encoder, entry.json);
  }
  return { ok: true, update: encoding.toUint8Array(encoder) };
}
