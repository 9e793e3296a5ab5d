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

const WORDS = (
  "hello thanks order delivery package refund account password invoice payment card address update " +
  "question answer support agent customer today tomorrow yesterday week please could would should " +
  "help issue problem working broken fixed shipped tracking number email phone chat message reply " +
  "sorry great perfect okay sure maybe cancel return exchange size color price discount coupon code"
).split(" ");

/** About 160 characters of words drawn at random, so stores that compress see text, not one repeated string. */
function randomText() {
  let text = "";
  while (text.length < 160) text += `${WORDS[Math.floor(Math.random() * WORDS.length)]} `;
  return text.slice(0, 160);
}

let sequence = 0;
const runId = Math.random().toString(36).slice(2, 8);

/**
 * A message record in the conversation layout (about 230 bytes of JSON), as a Parley client writes it. Ids are unique per run.
 * `ts` defaults to now (a real client's hybrid clock is never behind it; the bench does not need the `+1` rule,
 * since display order breaks ties by id, and a strictly increasing clock would run ahead of the relay's skew
 * limit at the bench's message rates).
 * @param {string} clientId
 * @param {number} [ts]
 * @returns {{ id: string, role: "user", client: string, text: string, ts: number }}
 */
export function createMessage(clientId, ts = Date.now()) {
  sequence += 1;
  return {
    id: `m${runId}${sequence.toString(36).padStart(10, "0")}`,
    role: "user",
    client: clientId,
    text: randomText(),
    ts,
  };
}
