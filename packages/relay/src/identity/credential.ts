/**
 * What vouched for an open connection: the app key that verified its token and the token's id. A config reload
 * can remove the key or deny the id; the relay then closes the connections whose credential no longer stands
 * ({@link closeStale}), with 4401 and the reason token of the problem, right at the reload.
 */
import { CloseCode } from "@parley/protocol";
import type { KeyRing } from "./jwt.js";

/** The key and token id behind a connection authenticated by the relay's own JWT check. */
export interface Credential {
  appId: string;
  kid: string;
  /** Digest of the key's material (algorithm and secret or public key): a key replaced under the same kid differs. */
  key: string;
  /** The token's `jti`, when it has one (only such tokens can be denied by id). */
  jti?: string;
}

/** Why a credential no longer stands: its key was removed (or replaced), or its token id was denied. */
export type CredentialProblem = "key-removed" | "token-denied";

/** The prose of each credential problem (the reason token says which it was). */
export const PROBLEM_TEXT: Record<CredentialProblem, string> = {
  "key-removed": "the key that signed the token was removed from the relay's configuration",
  "token-denied": "the token id is on the relay's denylist",
};

/** An open connection, as a reload sees it. */
export interface CredentialHolder {
  /** `undefined` for anonymous connections and those an `onAuthenticate` extension vouched for. */
  readonly credential: Credential | undefined;
  close(code: typeof CloseCode.Unauthorized, reason: CredentialProblem, detail: string): void;
}

/**
 * Closes, with 4401 `key-removed` or `token-denied`, every connection whose credential `keys` no longer accepts.
 * Returns how many were closed for each problem.
 */
export function closeStale(connections: Iterable<CredentialHolder>, keys: KeyRing): Record<CredentialProblem, number> {
  const closed: Record<CredentialProblem, number> = { "key-removed": 0, "token-denied": 0 };
  for (const connection of connections) {
    const credential = connection.credential;
    if (credential === undefined) continue;
    const problem = keys.problem(credential);
    if (problem === null) continue;
    connection.close(CloseCode.Unauthorized, problem, PROBLEM_TEXT[problem]);
    closed[problem] += 1;
  }
  return closed;
}
