/**
 * The awareness (presence) counterpart of the authorship check. Awareness is never stored, but every client
 * in the room shows it, and the relay keeps a meta entry per clientID it ever applied. So:
 *
 * - A connection may set or clear only presence for Yjs clientIDs it introduced, at most
 *   {@link MAX_PRESENCE_IDS} of them, and never one another client (or the relay) owns in the document's
 *   `owners` or shows already. Entries for anyone else's clientID are dropped silently: a stock y-websocket
 *   provider echoes every awareness change it receives back to the server, so they are not an offence.
 *   A clientID nobody owns may be introduced (a client shows typing before it ever wrote, so before its
 *   clientID is in `owners`), within that cap.
 * - A null state (a removal) for a clientID the connection did not introduce is dropped, so it never leaves a
 *   meta entry behind.
 * - A frame carries at most {@link MAX_PRESENCE_ENTRIES} entries (4413 beyond).
 * - A state that claims the business — any `role: "business"` (e.g. `user.role`, `typing.role`) or an
 *   `agent:` id anywhere in it — is refused (4409): only the relay speaks for the business.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/** Presence clientIDs one connection may introduce. An honest client shows one (its document's clientID). */
export const MAX_PRESENCE_IDS = 4;
/** Entries in one awareness frame (a stock provider echoes everyone's: at most the room's connections' ids). */
export const MAX_PRESENCE_ENTRIES = 512;

/** Who controls an awareness clientID: this connection, another one (or the relay), or nobody yet. */
export type AwarenessOwner = "self" | "other" | undefined;

/** What to do with an awareness update. */
export type AwarenessVerdict =
  /** Apply `update` (the entries this connection may set; `introduced` are new to it); `null` if nothing is left. */
  | { ok: true; update: Uint8Array | null; introduced: number[] }
  | { ok: false; code: "authorship" | "too-large"; reason: string };

interface Entry {
  clientID: number;
  clock: number;
  json: string;
}

function readEntries(update: Uint8Array): Entry[] | null {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  if (count > MAX_PRESENCE_ENTRIES) return null;
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const clientID = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    entries.push({ clientID, clock, json: decoding.readVarString(decoder) });
  }
  return entries;
}

/** Whether a presence state speaks for the business: a `role: "business"` or an `agent:` id at any depth. */
export function claimsBusiness(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object") return false;
  if (depth > 8) return true; // deeper than any presence Parley knows: not understood, so not allowed
  for (const [key, inner] of Object.entries(value)) {
    if (key === "role" && inner === "business") return true;
    if (typeof inner === "string" && inner.toLowerCase().startsWith("agent:")) return true;
    if (claimsBusiness(inner, depth + 1)) return true;
  }
  return false;
}

/**
 * Filters an awareness update from a connection that introduced `introducedCount` clientIDs so far.
 * Throws if the update cannot be decoded.
 */
export function checkAwarenessUpdate(
  update: Uint8Array,
  ownerOf: (clientID: number) => AwarenessOwner,
  introducedCount: number,
): AwarenessVerdict {
  const entries = readEntries(update);
  if (entries === null) return { ok: false, code: "too-large", reason: "too many presence entries in one frame" };
  const kept: Entry[] = [];
  const introduced: number[] = [];
  for (const entry of entries) {
    const owner = ownerOf(entry.clientID);
    if (owner === "other") continue;
    const state: unknown = JSON.parse(entry.json);
    if (owner === undefined) {
      if (state === null || introducedCount + introduced.length >= MAX_PRESENCE_IDS) continue;
      if (introduced.includes(entry.clientID)) continue;
      introduced.push(entry.clientID);
    }
    if (claimsBusiness(state)) return { ok: false, code: "authorship", reason: "presence may not claim the business" };
    kept.push(entry);
  }
  if (kept.length === 0) return { ok: true, update: null, introduced };
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, kept.length);
  for (const entry of kept) {
    encoding.writeVarUint(encoder, entry.clientID);
    encoding.writeVarUint(encoder, entry.clock);
    encoding.writeVarString(encoder, entry.json);
  }
  return { ok: true, update: encoding.toUint8Array(encoder), introduced };
}
