/**
 * The wire protocol: y-websocket's messages, plus one Parley extension.
 *
 * Each binary frame starts with a varUint message type:
 *
 * | type | name            | direction       | body                                                   |
 * |------|-----------------|-----------------|--------------------------------------------------------|
 * | 0    | sync            | both            | y-protocols sync: step 1 (state vector), step 2, update |
 * | 1    | awareness       | both            | y-protocols awareness update                            |
 * | 2    | auth            | relay → client  | y-protocols auth (permission denied + reason)           |
 * | 3    | query awareness | client → relay  | empty                                                   |
 * | 100  | stored          | relay → client  | varUint8Array: state vector of what is durably stored   |
 * | 101  | logout          | client → relay  | empty: this client leaves the subject (marked inactive;  |
 * |      |                 |                 | an anonymous subject's secret is revoked); relay closes 1000 |
 *
 * `stored` is sent only to connections that asked for it with the URL parameter `acks=1` (a stock
 * y-websocket client logs and ignores unknown types, but never needs to see one). The relay sends it after
 * the first sync and after every durable write. A client's change is stored once the stored state vector
 * covers its Yjs id: `storedClock(client) > clock`.
 *
 * Connection URL: `<relayUrl>/<room>?token=<jwt | anon.<secret>>&client=<clientSecret>[&acks=1]
 * [&info=<base64url JSON ClientInfo>][&merge=anon.<secret>]`. See the relay README.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";

export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  stored: 100,
  logout: 101,
} as const;

/** URL query parameters a Parley connection uses. */
export const ConnectParam = {
  token: "token",
  client: "client",
  acks: "acks",
  info: "info",
  merge: "merge",
} as const;

/** What a client tells the relay about itself; the relay stamps times and the User-Agent. */
export interface ClientInfo {
  platform?: string;
  appVersion?: string;
  sdkVersion?: string;
}

/** Encodes a `stored` frame. */
export function encodeStored(stateVector: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.stored);
  encoding.writeVarUint8Array(encoder, stateVector);
  return encoding.toUint8Array(encoder);
}

/** Decodes the body of a `stored` frame (after the type) into a map of Yjs clientID → stored clock. */
export function readStored(decoder: decoding.Decoder): Map<number, number> {
  return Y.decodeStateVector(decoding.readVarUint8Array(decoder));
}

/** Encodes {@link ClientInfo} for the `info` URL parameter. */
export function encodeClientInfo(info: ClientInfo): string {
  const bytes = new TextEncoder().encode(JSON.stringify(info));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Decodes the `info` URL parameter; returns `null` if it is not valid. */
export function decodeClientInfo(value: string): ClientInfo | null {
  try {
    const binary = atob(value.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    const info: ClientInfo = {};
    for (const key of ["platform", "appVersion", "sdkVersion"] as const) {
      const field = (parsed as Record<string, unknown>)[key];
      if (field === undefined) continue;
      if (typeof field !== "string" || field.length > 128) return null;
      info[key] = field;
    }
    return info;
  } catch {
    return null;
  }
}
