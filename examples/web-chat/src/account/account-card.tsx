/**
 * The shop's account box: who is signed in, signing in (the shop's login, which also logs the chat in),
 * signing out with a question before unsent messages are dropped, the profile the agent sees, and the
 * devices the conversation is on.
 */
import { UnsentChangesError } from "@parley/client";
import { useIdentity, useSession } from "@parley/react";
import { type FormEvent, useState } from "react";
import { fetchUserToken } from "../backend-api.js";
import { Dialog } from "../dialog.js";
import { Devices } from "./devices.js";
import { ProfileForm } from "./profile-form.js";

export function AccountCard() {
  const identity = useIdentity();
  const session = useSession();
  const [userId, setUserId] = useState("");
  const busy = session.pending !== null || identity === undefined;
  const unsent = session.error instanceof UnsentChangesError ? session.error : null;
  const [retry, setRetry] = useState<"logout" | { userId: string } | null>(null);

  const logIn = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = userId.trim();
    if (wanted === "") return;
    setRetry({ userId: wanted });
    if (await session.login(wanted, () => fetchUserToken(wanted))) setUserId("");
  };
  const logOut = () => {
    setRetry("logout");
    void session.logout();
  };
  const discard = async () => {
    if (retry === "logout") await session.logout({ discardUnsent: true });
    else if (retry !== null)
      await session.login(retry.userId, () => fetchUserToken(retry.userId), { discardUnsent: true });
  };

  return (
    <section className="card account" aria-label="Your account">
      <h2>Your account</h2>
      <p
        className="identity"
        data-testid="identity"
        data-kind={identity?.kind}
        data-user-id={identity?.kind === "user" ? identity.userId : undefined}
      >
        {identity === undefined ? (
          "Loading…"
        ) : identity.kind === "anonymous" ? (
          <>
            Guest <span className="guest-id">#{identity.anonymousId.slice(0, 8)}</span>
            <small>Only this browser has this conversation until you sign in.</small>
          </>
        ) : (
          <>
            {identity.userId}
            <small>{identity.authenticated ? "Signed in" : "Signed in · waiting for the server to confirm"}</small>
          </>
        )}
      </p>
      <form className="login" data-testid="login-form" autoComplete="off" onSubmit={logIn}>
        <label htmlFor="login-user-id" data-testid="login-label">
          {identity?.kind === "user" ? "Switch to another user" : "Sign in as"}
        </label>
        <div className="row">
          <input
            id="login-user-id"
            data-testid="login-user-id"
            value={userId}
            onChange={(event) => setUserId(event.target.value)}
            placeholder="a user id, e.g. alice"
            required
            maxLength={256}
          />
          <button type="submit" data-testid="login-submit" disabled={busy}>
            {session.pending === "login" ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
      <button type="button" className="secondary" data-testid="logout" disabled={busy} onClick={logOut}>
        {session.pending === "logout"
          ? "Signing out…"
          : identity?.kind === "user"
            ? "Sign out"
            : "Start over as a new guest"}
      </button>
      <p className="notice" data-testid="notice" role="status" hidden={session.error === null || unsent !== null}>
        {session.error?.message}
      </p>
      {identity?.kind === "user" && <ProfileForm />}
      <Devices />
      {unsent !== null && (
        <Dialog
          title="Some messages haven't been sent"
          testId="unsent-dialog"
          onCancel={session.reset}
          actions={[
            { label: "Keep them", testId: "unsent-keep", onClick: session.reset },
            { label: "Discard and continue", testId: "unsent-discard", danger: true, onClick: () => void discard() },
          ]}
        >
          {unsent.messageIds.length === 1
            ? "1 message has not reached our server yet."
            : `${unsent.messageIds.length} messages have not reached our server yet.`}{" "}
          If you continue now, {unsent.messageIds.length === 1 ? "it is" : "they are"} lost. Keep them to try again once
          you are back online.
        </Dialog>
      )}
    </section>
  );
}
