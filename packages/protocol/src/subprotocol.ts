/**
 * Credentials in the WebSocket handshake instead of the URL.
 *
 * URLs end up where credentials must not: browser consoles print the full URL of every failed reconnect, and
 * proxies and load balancers log request lines. So Parley's client sends its credentials (`token`, `client`,
 * `merge`) as entries of the `Sec-WebSocket-Protocol` header, which those logs do not record, next to the
 * protocol it speaks:
 *
 *     Sec-WebSocket-Protocol: parley.v1, parley.token.<jwt or anon.secret>, parley.client.<secret>[, parley.merge.anon.<secret>]
 *
 * The relay answers with `parley.v1` only — never a credential entry — and reads the credentials from the
 * other entries. JWTs, `anon.` tokens and secrets are base64url with dots, all valid header token characters.
 * The query parameters of the same names stay accepted, for stock `WebsocketProvider`s: the less private path.
 */
import { ConnectParam } from "./wire.js";

/** The subprotocol Parley's relay selects: the y-websocket protocol with Parley's frames (see PROTOCOL.md). */
export const PARLEY_SUBPROTOCOL = "parley.v1";

/** The connect parameters that are credentials, and travel as subprotocol entries. */
export const CREDENTIAL_PARAMS = [ConnectParam.token, ConnectParam.client, ConnectParam.merge] as const;

/** One of {@link CREDENTIAL_PARAMS}. */
export type CredentialParam = (typeof CREDENTIAL_PARAMS)[number];

const PREFIX = "parley.";
/** A header token (RFC 9110): what a subprotocol entry may contain. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The subprotocols a client offers: {@link PARLEY_SUBPROTOCOL} first, then one entry per credential in
 * `params`. Throws `TypeError` if a value cannot travel in a header (it would have to go in the URL).
 */
export function credentialSubprotocols(params: Partial<Record<CredentialParam, string>>): string[] {
  const entries = [PARLEY_SUBPROTOCOL];
  for (const name of CREDENTIAL_PARAMS) {
    const value = params[name];
    if (value === undefined) continue;
    const entry = `${PREFIX}${name}.${value}`;
    if (!TOKEN.test(entry)) throw new TypeError(`the ${name} cannot travel in a Sec-WebSocket-Protocol header`);
    entries.push(entry);
  }
  return entries;
}

/**
 * Reads credentials from the offered subprotocols (the `Sec-WebSocket-Protocol` header's entries). Returns
 * `null` if a credential is offered twice, which a client never does.
 */
export function credentialsFromSubprotocols(
  offered: readonly string[],
): Partial<Record<CredentialParam, string>> | null {
  const credentials: Partial<Record<CredentialParam, string>> = {};
  for (const entry of offered) {
    for (const name of CREDENTIAL_PARAMS) {
      const prefix = `${PREFIX}${name}.`;
      if (!entry.startsWith(prefix)) continue;
      if (credentials[name] !== undefined) return null;
      credentials[name] = entry.slice(prefix.length);
    }
  }
  return credentials;
}
