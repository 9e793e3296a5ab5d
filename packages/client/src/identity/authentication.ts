/**
 * The relay's verdict on the current conversation's credentials. Accepted (a synced connection): the
 * user is authenticated, missed logouts are delivered, a pending merge is completed, and a waiting login
 * resolves. Refused (a permanent close): a waiting login or renewal gets the typed error; a refused login merge
 * undoes the login (login.ts); otherwise the user is no longer authenticated, the token is refreshed once if
 * the app can, or the error is reported.
 */
import { errorForClose } from "../net/close-errors.js";
import type { ClientState } from "../state.js";
import { isMergeRefusal, type Login } from "./login.js";
import type { TokenRefresh } from "./token-refresh.js";

/** The current conversation synced with the relay. */
export function accepted(state: ClientState, tokens: TokenRefresh, logins: Login): void {
  tokens.accepted();
  // The relay is reachable: tell it about logouts it missed.
  state.notices?.deliver();
  const subject = state.currentRecord().current;
  if (subject.kind === "user") {
    const changed = !state.authenticated;
    state.authenticated = true;
    logins.synced(subject);
    if (changed) state.emitIdentity();
  }
  state.answer.settle({ kind: "synced" });
}

/** The relay closed the current conversation's connection for good with `code`. */
export function refused(state: ClientState, tokens: TokenRefresh, logins: Login, code: number, reason: string): void {
  const error = errorForClose(code, reason);
  if (state.answer.settle({ kind: "refused", error })) return;
  const subject = state.currentRecord().current;
  if (subject.kind === "user" && subject.pendingMerge !== undefined && isMergeRefusal(error)) {
    // Asking again would be refused again, on every connection: undo the login for good, and say so once.
    logins.mergeRefused(subject).then(
      () => state.report(error),
      (failure: unknown) => state.report(failure),
    );
    return;
  }
  if (subject.kind === "user") {
    state.authenticated = false;
    state.emitIdentity();
    if (tokens.retryAfterRefusal(subject, code, error)) return;
  }
  state.report(error);
}
