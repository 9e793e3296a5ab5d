/**
 * `useSession`: login and logout as a component needs them — the action, whether one is under way, and
 * what went wrong — in the shape of the mutation hooks React users know.
 */
import { useCallback, useState } from "react";
import { useIdentity } from "./hooks.js";
import { useParleyStore } from "./provider.js";

/** Options of {@link Session.login} and {@link Session.logout}. */
export interface SessionOptions {
  /** Drop messages the relay has not stored instead of failing with `UnsentChangesError`. */
  discardUnsent?: boolean;
}

/** What {@link useSession} returns. */
export interface Session {
  /** The signed-in userId, or `null` for an anonymous user (and on the server, and until ready). */
  userId: string | null;
  /** The action under way, if any. */
  pending: "login" | "logout" | null;
  /**
   * What the last action failed with (`null` after a success or {@link Session.reset}). An
   * `UnsentChangesError` here means unsent messages would be lost: ask, then repeat with `discardUnsent`.
   */
  error: Error | null;
  /**
   * Logs in as `userId`. `token` is the JWT, or a function fetching it from the app's backend. Resolves
   * `true` once done (the relay may still be unreachable: see `useIdentity().authenticated`), `false` if it
   * failed (see `error`). Never rejects.
   */
  login: (userId: string, token: string | (() => Promise<string>), options?: SessionOptions) => Promise<boolean>;
  /** Logs out and continues as a new anonymous user. Resolves `true` once done, `false` if it failed. */
  logout: (options?: SessionOptions) => Promise<boolean>;
  /** Clears `error`. */
  reset: () => void;
}

/** Login and logout with pending and error state. */
export function useSession(): Session {
  const store = useParleyStore();
  const identity = useIdentity();
  const [pending, setPending] = useState<Session["pending"]>(null);
  const [error, setError] = useState<Error | null>(null);

  const run = useCallback(
    async (kind: "login" | "logout", action: () => Promise<unknown>): Promise<boolean> => {
      setPending(kind);
      setError(null);
      try {
        if (store === null) throw new Error(`${kind}: the ParleyProvider has no client yet`);
        await action();
        return true;
      } catch (failure) {
        setError(failure instanceof Error ? failure : new Error(String(failure)));
        return false;
      } finally {
        setPending(null);
      }
    },
    [store],
  );

  const login = useCallback(
    (userId: string, token: string | (() => Promise<string>), options?: SessionOptions) =>
      run("login", async () => {
        const jwt = typeof token === "string" ? token : await token();
        await store?.client.login(userId, jwt, options);
      }),
    [run, store],
  );
  const logout = useCallback(
    (options?: SessionOptions) => run("logout", async () => store?.client.logout(options)),
    [run, store],
  );
  const reset = useCallback(() => setError(null), []);

  return { userId: identity?.kind === "user" ? identity.userId : null, pending, error, login, logout, reset };
}
