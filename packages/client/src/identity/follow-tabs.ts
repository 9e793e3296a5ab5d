/**
 * Following the other instances on this store ("tabs"): when one changes the identity record (login,
 * switch, logout, a refreshed token, a completed merge) the others re-read it and adopt it, and before one
 * erases a room every other instance closes its handles on it.
 */
import type { ClientState } from "../state.js";
import { readIdentity, sameSubject } from "./identity-record.js";
import { Tabs } from "./tabs.js";
import type { TokenRefresh } from "./token-refresh.js";

/** Joins the channel of this store's instances (where BroadcastChannel exists and `tabSync` is on). */
export function followTabs(state: ClientState, tokens: TokenRefresh): void {
  if (!state.options.tabSync || typeof BroadcastChannel !== "function") return;
  state.tabs = new Tabs({
    name: `parley/${state.options.appId}/${state.clientId}/identity`,
    onIdentityChanged: () => {
      state.queue.enqueue(() => follow(state, tokens)).catch((error: unknown) => state.report(error));
    },
    onRelease: (room) => state.queue.enqueue(() => release(state, room)),
  });
}

/**
 * Moves this instance to the tabs channel of the store's current client id (a logout drew a new one): the
 * channel is named for it, so instances started after the logout find this one.
 */
export function rejoinTabs(state: ClientState, tokens: TokenRefresh): void {
  if (state.tabs === undefined) return;
  state.tabs.close();
  state.tabs = undefined;
  followTabs(state, tokens);
}

/** Another instance changed the identity record: adopt it. */
async function follow(state: ClientState, tokens: TokenRefresh): Promise<void> {
  if (state.destroyed) return;
  const stored = await readIdentity(state.storage, state.options.appId);
  const current = state.record?.current;
  if (stored === undefined || current === undefined) return;
  if (sameSubject(stored.current, current)) {
    const tokenChanged =
      stored.current.kind === "user" && current.kind === "user" && stored.current.token !== current.token;
    state.record = stored;
    if (tokenChanged) {
      tokens.followed();
      const session = state.session;
      if (session !== undefined && session.status === "offline" && state.connectionWanted) session.connect();
      // An open connection takes the new token in band, so it is not closed at the old one's exp.
      else if (session !== undefined && stored.current.kind === "user") session.refreshToken(stored.current.token);
    }
    return;
  }
  await state.dropSession();
  const newDevice = stored.clientSecret !== state.record?.clientSecret;
  state.record = stored;
  state.authenticated = false;
  if (newDevice) rejoinTabs(state, tokens);
  await state.openSession();
}

/** Another instance is about to erase `room`: let go of it. */
async function release(state: ClientState, room: string): Promise<void> {
  if (state.session?.room === room) await state.dropSession();
}
