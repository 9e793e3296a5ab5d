// Who the benchmark's clients are: users with JWTs signed by the bench app's HS256 key, and clients with secrets.
// Every target gets the same identities and the same message records, so the comparison is like for like.
import { clientIdFromSecret, createSecret } from "@parley/protocol";
import { SignJWT } from "jose";

/** The app and key the Parley relay is configured with. */
export const BENCH_APP = {
  id: "bench",
  kid: "bench-k1",
  secret: "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
};

const key = new TextEncoder().encode(BENCH_APP.secret);

/**
 * A user's token, as the app's backend would sign it.
 * @param {string} userId
 */
export function signUserToken(userId) {
  return new SignJWT({ sub: userId })
    .setProtectedHeader({ alg: "HS256", kid: BENCH_APP.kid })
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(key);
}

/**
 * @typedef {object} ClientIdentity
 * @property {string} secret The client secret (Parley's `client` connection parameter).
 * @property {string} clientId The public client id stamped on every message it writes.
 */

/** @returns {ClientIdentity} */
export function createClientIdentity() {
  const secret = createSecret();
  return { secret, clientId: clientIdFromSecret(secret) };
}

/** About 160 characters, so a record is about 230 bytes of JSON, like a short chat message. */
const TEXT = "The quick brown fox jumps over the lazy dog while the customer waits for an answer about order #12345. "
  .repeat(2)
  .slice(0, 160);

let sequence = 0;
const runId = Math.random().toString(36).slice(2, 8);

/**
 * A message record in the conversation layout, as a Parley client writes it. Ids are unique per run.
 * `ts` defaults to now (a real client's hybrid clock is never behind it; the bench does not need the `+1` rule,
 * since display order breaks ties by id, and a strictly increasing clock would run ahead of the relay's skew
 * limit at the bench's message rates).
 * @param {string} clientId
 * @param {number} [ts]
 * @returns {{ id: string, role: "user", client: string, text: string, ts: number }}
 */
export function createMessage(clientId, ts = Date.now()) {
  sequence += 1;
  return { id: `m${runId}${sequence.toString(36).padStart(10, "0")}`, role: "user", client: clientId, text: TEXT, ts };
}
