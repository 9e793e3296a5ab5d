/**
 * Garbage collection at start: conversations of this app that the current identity no longer needs
 * (left behind by a crash in the middle of a logout or switch) are deleted from the store.
 */
import { parseRoomName } from "@parley/protocol";
import { Session } from "../conversation/session.js";
import type { ClientState } from "../state.js";
import { readIdentity, withIdentityLock } from "./identity-record.js";

/** Deletes the stored conversations the current identity does not use; never fails. */
export async function collectGarbage(state: ClientState): Promise<void> {
  const { storage, options } = state;
  // Under the lock and from a fresh read, so a login or logout in another instance is never undercut.
  await withIdentityLock(storage, options.appId, async () => {
    const stored = await readIdentity(storage, options.appId);
    if (stored === undefined) return;
    const keep = new Set(state.roomsOf(stored.current));
    if (state.session !== undefined) keep.add(state.session.room);
    for (const name of await storage.listDocs()) {
      if (keep.has(name) || parseRoomName(name)?.appId !== options.appId) continue;
      // A document another instance still holds open stays until a later start.
      await Session.erase(storage, name).catch(() => {});
    }
  }).catch(() => {});
}
