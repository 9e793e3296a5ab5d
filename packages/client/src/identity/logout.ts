/**
 * Logout: flush the user's own unsent changes (or refuse, naming them), tell the relay this client left
 * (or keep a durable notice to deliver when it is reachable), delete the conversation from the store, and
 * carry on as a new anonymous user. Other instances on the store follow (follow-tabs.ts).
 */
import { anonymousToken, createSecret } from "@parley/protocol";
import type { ClientState } from "../state.js";
import { rejoinTabs } from "./follow-tabs.js";
import { newAnonymousSubject, type Subject } from "./identity-record.js";
import type { TokenRefresh } from "./token-refresh.js";

/** How long the `logout` frame may take before the logout is remembered as a notice instead. */
export const LOGOUT_FRAME_TIMEOUT_MS = 2_000;

/** Logs the current subject out (runs inside the operation queue). */
export async function logout(state: ClientState, tokens: TokenRefresh, discardUnsent: boolean): Promise<void> {
  const session = state.currentSession();
  const previous = state.currentRecord().current;
  if (!discardUnsent) await session.flush(state.options.flushTimeoutMs);
  await leaveRelay(state, previous);
  await state.closeSession();
  // A new client secret too: the next anonymous subject must not be linkable to the one leaving.
  const newDevice = !state.options.stableDeviceId;
  await state.replaceSubject(newAnonymousSubject(), newDevice ? createSecret() : undefined);
  for (const room of state.roomsOf(previous)) await state.eraseRoom(room);
  if (newDevice) rejoinTabs(state, tokens);
  await state.openSession();
}

/**
 * Sends the `logout` frame for `subject` on the current connection, or, if the relay does not take it,
 * keeps a durable notice for it (and for an anonymous room whose merge the relay never made: its secret
 * must be revoked too), delivered when the relay is back.
 */
export async function leaveRelay(state: ClientState, subject: Subject): Promise<void> {
  if (await state.currentSession().logoutFromRelay(LOGOUT_FRAME_TIMEOUT_MS)) return;
  const notices = state.notices;
  if (notices === undefined) return;
  const clientSecret = state.currentRecord().clientSecret;
  const token = subject.kind === "anonymous" ? anonymousToken(subject.secret) : subject.token;
  await notices.add({ room: state.roomOf(subject), token, clientSecret });
  if (subject.kind === "user" && subject.pendingMerge !== undefined) {
    const room = state.anonymousRoom(subject.pendingMerge);
    await notices.add({ room, token: anonymousToken(subject.pendingMerge), clientSecret });
  }
  if (state.connectionWanted) notices.deliver();
}
