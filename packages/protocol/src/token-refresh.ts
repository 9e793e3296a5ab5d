/**
 * Token refresh in band: a client replaces its connection's user token without reconnecting.
 *
 * The client sends `103 refresh` with the new JWT (`varString`). The relay verifies it as it verifies a
 * token at connect; it must be for the same app and the same user as the connection's (else the relay
 * closes `4403 other-app` / `4403 other-room`, as it would refuse that token at connect). It answers with
 * `104 refreshed`:
 *
 * - `varUint 0` + `varUint exp`: accepted; the connection now ends at the new token's `exp`.
 * - `varUint 1` + `varString reason`: refused (a 4401 or 4402 reason token: `expired`, `signature`,
 *   `claims`, …); nothing changed and the socket still closes `4402 expired` at the old token's `exp`.
 *
 * A refresh on an anonymous connection (no JWT to replace) is closed `4403 other-room`.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { type CloseReason, closeCodeOfReason } from "./close-reasons.js";
import { ErrorCode, ParleyError } from "./errors.js";
import { MessageType } from "./wire.js";

/** The relay's answer to a `refresh`. */
export type RefreshAnswer = { accepted: true; exp: number } | { accepted: false; reason: CloseReason };

/** Encodes a `refresh` frame carrying `token`. */
export function encodeRefresh(token: string): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.refresh);
  encoding.writeVarString(encoder, token);
  return encoding.toUint8Array(encoder);
}

/** Encodes a `refreshed` frame. */
export function encodeRefreshed(answer: RefreshAnswer): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.refreshed);
  if (answer.accepted) {
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint(encoder, answer.exp);
  } else {
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarString(encoder, answer.reason);
  }
  return encoding.toUint8Array(encoder);
}

/** Decodes the body of a `refreshed` frame (after the type); throws `ERR_BAD_FRAME` if malformed. */
export function readRefreshed(decoder: decoding.Decoder): RefreshAnswer {
  const status = decoding.readVarUint(decoder);
  if (status === 0) return { accepted: true, exp: decoding.readVarUint(decoder) };
  const reason = decoding.readVarString(decoder);
  if (status !== 1 || closeCodeOfReason(reason) === undefined) {
    throw new ParleyError(ErrorCode.BadFrame, "refreshed frame: unknown status or reason");
  }
  return { accepted: false, reason: reason as CloseReason };
}
