/**
 * Starting a client: read the store's identity record, or create one with a new anonymous user (works
 * offline, on first use), join the other instances on the store, open the current conversation, then
 * collect garbage and deliver logout notices left from earlier runs.
 */
import { createSecret } from "@parley/protocol";
import type { ClientState } from "../state.js";
import { followTabs } from "./follow-tabs.js";
import { collectGarbage } from "./garbage-collection.js";
import {
  type IdentityRecord,
  newAnonymousSubject,
  readIdentity,
  withIdentityLock,
  writeIdentity,
} from "./identity-record.js";
import type { TokenRefresh } from "./token-refresh.js";

/** Loads the client (runs as the first task of the operation queue). */
export async function start(state: ClientState, tokens: TokenRefresh): Promise<void> {
  const { storage, options } = state;
  state.record = await withIdentityLock(storage, options.appId, async () => {
    const existing = await readIdentity(storage, options.appId);
    if (existing !== undefined) return existing;
    const created: IdentityRecord = { clientSecret: createSecret(), current: newAnonymousSubject() };
    await writeIdentity(storage, options.appId, created);
    return created;
  });
  // destroy() may have run while the record was read; an open channel would keep Node alive.
  state.assertAlive();
  followTabs(state, tokens);
  await state.openSession();
  state.phase = "ready";
  state.queue.enqueue(() => collectGarbage(state)).catch(() => {});
  if (state.connectionWanted) state.notices?.deliver();
}
