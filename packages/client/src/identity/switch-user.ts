/**
 * Switching from one user to another on this store: flush the current user's own unsent changes (or
 * refuse, naming them), check the new token with the relay on a probe connection (a refusal leaves
 * everything as it was), then log the previous user out of the relay, delete their data from the store
 * and open the new user's conversation with what the probe received.
 *
 * The new user gets a new client secret (unless the app opts in to `stableDeviceId`), drawn before the probe
 * so that even the probe's client record in the new user's room cannot link the two users of this store on
 * the business side (the same client id in both users' client lists would).
 */
import { ConnectParam, createSecret, RelayUnavailableError } from "@parley/protocol";
import * as Y from "yjs";
import { probeRoom } from "../net/probe.js";
import type { ClientState } from "../state.js";
import { rejoinTabs } from "./follow-tabs.js";
import type { UserSubject } from "./identity-record.js";
import { leaveRelay } from "./logout.js";
import type { TokenRefresh } from "./token-refresh.js";

/** Switches to `userId` (runs inside the operation queue). */
export async function switchUser(
  state: ClientState,
  tokens: TokenRefresh,
  userId: string,
  jwt: string,
  discardUnsent: boolean,
): Promise<{ authenticated: boolean }> {
  const previous = state.currentSession();
  if (!discardUnsent) await previous.flush(state.options.flushTimeoutMs);
  const subject: UserSubject = { kind: "user", userId, token: jwt, nonce: createSecret() };
  const newDevice = !state.options.stableDeviceId;
  const clientSecret = newDevice ? createSecret() : state.currentRecord().clientSecret;
  const WebSocket = state.options.WebSocket;
  if (!state.connectionWanted || WebSocket === undefined) {
    throw new RelayUnavailableError("switching users needs the relay to check the new token");
  }
  const thread = await probeRoom({
    relayUrl: state.options.relayUrl,
    room: state.roomOf(subject),
    WebSocket,
    params: {
      [ConnectParam.token]: jwt,
      [ConnectParam.client]: clientSecret,
      [ConnectParam.acks]: "1",
      [ConnectParam.info]: state.info,
    },
    timeoutMs: state.options.loginTimeoutMs,
  });
  state.assertAlive();
  const previousSubject = state.currentRecord().current;
  await leaveRelay(state, previousSubject);
  await state.closeSession();
  await state.replaceSubject(subject, newDevice ? clientSecret : undefined);
  for (const stale of state.roomsOf(previousSubject)) await state.eraseRoom(stale);
  if (newDevice) rejoinTabs(state, tokens);
  // The relay accepted this token a moment ago.
  state.authenticated = true;
  await state.openSession();
  const session = state.currentSession();
  Y.applyUpdate(session.doc, thread);
  await session.persist();
  return { authenticated: state.authenticated };
}
