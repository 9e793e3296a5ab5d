/**
 * Admission: what a WebSocket upgrade request may open, decided from its URL and credentials before any
 * frame is read. See PROTOCOL.md for the parameters and the relay README for the close codes.
 *
 * - The path is `/v1/<room>`, with the room exactly as `roomName()` writes it (no decoding, no
 *   normalization: `..` or `%2F` never reach another room).
 * - `client=<secret>` is required; the client id is derived from it.
 * - `token=<jwt>` opens the user room of the token's subject, in the app of the key that signed it.
 * - `token=anon.<secret>` opens only the anonymous room whose id derives from that secret.
 */
import type { IncomingMessage } from "node:http";
import {
  anonymousIdFromSecret,
  type ClientInfo,
  CloseCode,
  ConnectParam,
  clientIdFromSecret,
  credentialsFromSubprotocols,
  decodeClientInfo,
  ForbiddenError,
  isSecret,
  parseAnonymousToken,
  parseRoomName,
  parseTail,
  type RoomRef,
  roomName,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
} from "@parley/protocol";
import type { Authenticated, AuthenticateRequest } from "../core/extension.js";
import { Refusal } from "../core/refusal.js";
import type { Credential } from "./credential.js";
import type { KeyRing } from "./jwt.js";

/** URL prefix of WebSocket connections. */
export const WS_PATH_PREFIX = "/v1/";

/** What an admitted connection may do. */
export interface Admission {
  room: string;
  ref: RoomRef;
  clientId: string;
  /** Whether the client asked for `stored` frames. */
  acks: boolean;
  /** Whether it takes changes at once as `attested` frames (`attest=1`, honoured with `acks=1` only). */
  attest: boolean;
  info: ClientInfo;
  userAgent?: string;
  /** Token expiry (seconds since the epoch) for user tokens that have one. */
  exp?: number;
  /**
   * The key and token id that vouched for a user token the relay verified itself (not one an `onAuthenticate`
   * extension vouched for): a config reload that removes the key or denies the id closes the connection.
   */
  credential?: Credential;
  /** For a login merge: the anonymous room to merge into this user's room. */
  mergeFrom?: string;
  /** How many of the newest messages to send in a `recent` preview before the sync (`tail=<n>`). */
  tail?: number;
}

/** What admission needs to know about the relay. */
export interface AdmissionContext {
  keys: KeyRing;
  /** The extensions' authentication (see `RelayExtension.onAuthenticate`); `undefined` leaves it to `keys`. */
  authenticate(request: AuthenticateRequest): Promise<Authenticated | undefined>;
  appIds: ReadonlySet<string>;
  /** Longest accepted token, in bytes. */
  maxTokenBytes: number;
}

function tokenRefusal(error: unknown): Refusal {
  if (error instanceof TokenExpiredError) return new Refusal(CloseCode.TokenExpired, "expired", "token expired");
  if (error instanceof TokenNotYetValidError)
    return new Refusal(CloseCode.TokenNotYetValid, "not-yet-valid", "token not yet valid");
  if (error instanceof TokenInvalidError)
    return new Refusal(CloseCode.Unauthorized, error.reason ?? "malformed", error.message);
  if (error instanceof ForbiddenError) return new Refusal(CloseCode.Forbidden, error.reason ?? "denied", error.message);
  return new Refusal(CloseCode.Unauthorized, "malformed", "token cannot be verified");
}

/**
 * Moves the credentials a client sent as `Sec-WebSocket-Protocol` entries (see `credentialSubprotocols` in
 * `@parley/protocol`) into `params`, where the rest of admission reads them. A credential given twice is refused.
 */
function takeSubprotocolCredentials(request: IncomingMessage, params: URLSearchParams): void {
  const header = request.headers["sec-websocket-protocol"];
  if (header === undefined) return;
  const offered = header.split(",").map((entry) => entry.trim());
  const credentials = credentialsFromSubprotocols(offered);
  if (credentials === null)
    throw new Refusal(CloseCode.BadRequest, "bad-credentials", "a credential offered twice as a subprotocol");
  for (const [name, value] of Object.entries(credentials)) {
    if (params.has(name))
      throw new Refusal(CloseCode.BadRequest, "bad-credentials", `${name} given both in the URL and as a subprotocol`);
    params.set(name, value);
  }
}

/** Decides what an upgrade request may open; throws a {@link Refusal} otherwise. */
export async function admit(request: IncomingMessage, context: AdmissionContext): Promise<Admission> {
  const url = request.url ?? "";
  const queryStart = url.indexOf("?");
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const params = new URLSearchParams(queryStart === -1 ? "" : url.slice(queryStart + 1));
  if (!path.startsWith(WS_PATH_PREFIX))
    throw new Refusal(CloseCode.BadRequest, "bad-path", `path must be ${WS_PATH_PREFIX}<room>`);
  const room = path.slice(WS_PATH_PREFIX.length);
  const ref = parseRoomName(room);
  if (ref === null) throw new Refusal(CloseCode.BadRequest, "bad-room", "malformed room name");
  if (!context.appIds.has(ref.appId)) throw new Refusal(CloseCode.UnknownApp, "unknown-app");
  takeSubprotocolCredentials(request, params);

  const clientSecret = params.get(ConnectParam.client);
  if (!isSecret(clientSecret))
    throw new Refusal(CloseCode.BadRequest, "bad-client", "client secret missing or malformed");
  const infoParam = params.get(ConnectParam.info);
  const info = infoParam === null ? {} : decodeClientInfo(infoParam);
  if (info === null) throw new Refusal(CloseCode.BadRequest, "bad-info", "malformed info parameter");
  const admission: Admission = {
    room,
    ref,
    clientId: clientIdFromSecret(clientSecret),
    acks: params.get(ConnectParam.acks) === "1",
    // Without acks a client could never let go of the attested updates it keeps.
    attest: params.get(ConnectParam.acks) === "1" && params.get(ConnectParam.attest) === "1",
    info,
  };
  const userAgent = request.headers["user-agent"];
  if (userAgent !== undefined) admission.userAgent = userAgent;
  const tailParam = params.get(ConnectParam.tail);
  if (tailParam !== null) {
    const tail = parseTail(tailParam);
    if (tail === null) throw new Refusal(CloseCode.BadRequest, "bad-tail", "tail must be an integer from 1 to 200");
    admission.tail = tail;
  }

  const token = params.get(ConnectParam.token) ?? "";
  if (token === "") throw new Refusal(CloseCode.Unauthorized, "missing", "no token");
  if (Buffer.byteLength(token) > context.maxTokenBytes)
    throw new Refusal(CloseCode.Unauthorized, "too-large", "token too large");
  const mergeParam = params.get(ConnectParam.merge);

  if (token.startsWith("anon.")) {
    const secret = parseAnonymousToken(token);
    if (secret === null) throw new Refusal(CloseCode.Unauthorized, "malformed", "malformed anonymous token");
    if (ref.kind !== "anonymous" || ref.subject !== anonymousIdFromSecret(secret)) {
      throw new Refusal(CloseCode.Forbidden, "other-room", "this anonymous token does not open this room");
    }
    if (mergeParam !== null) throw new Refusal(CloseCode.BadRequest, "merge-anonymous", "merge is for user rooms only");
    return admission;
  }

  let verified: Authenticated;
  try {
    const byExtension = await context.authenticate({ request, room: ref, token });
    if (byExtension === undefined) {
      const own = await context.keys.verify(token, ref.appId);
      admission.credential = own.credential;
      verified = own;
    } else {
      verified = byExtension;
    }
  } catch (error) {
    throw tokenRefusal(error);
  }
  if (verified.appId !== ref.appId) throw new Refusal(CloseCode.Forbidden, "other-app", "token is for another app");
  if (ref.kind !== "user" || ref.subject !== verified.userId) {
    throw new Refusal(CloseCode.Forbidden, "other-room", "token does not open this room");
  }
  if (verified.exp !== undefined) admission.exp = verified.exp;
  if (mergeParam !== null) {
    const secret = parseAnonymousToken(mergeParam);
    if (secret === null) throw new Refusal(CloseCode.BadRequest, "bad-merge", "merge must be anon.<secret>");
    admission.mergeFrom = roomName({ appId: ref.appId, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
  }
  return admission;
}
