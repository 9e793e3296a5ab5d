/**
 * Attested updates: how the relay forwards a change before it is durable without the crash problem.
 *
 * The problem: a relay that forwards a change and then crashes (or loses the un-synced tail of its log)
 * leaves readers holding structs it no longer has. After the restart they would send those structs back
 * in their sync step 2, and the relay would refuse them: the reader is not their author. That reader could
 * never sync again.
 *
 * The rule: to a connection that asked for it (URL parameter `attest=1`), the relay forwards each change
 * at once as an `attested` frame — the Yjs update plus a tag, a MAC under a secret the relay's storage
 * keeps (the same for every relay node on it, and across restarts) over the room name and the update. The
 * client keeps each attested update it received until a `stored` frame covers it (so persisted with its
 * tag), and when a relay's sync step 1 shows that the relay lacks one, sends it back as an `attested`
 * frame before its own step 2. The relay checks the tag and applies the update as it first did: it had
 * checked its authorship before it forwarded it. A forged or altered update fails the tag (4409
 * `attestation`) and nothing of it is applied. Connections without `attest=1` (stock y-websocket clients)
 * get each change only once it is durable, as before.
 *
 * Frame: varUint 105, varUint8Array update, varUint8Array tag — in both directions.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import { ErrorCode, ParleyError } from "./errors.js";
import { MessageType } from "./wire.js";

/** Length in bytes of an attestation tag (a truncated HMAC-SHA-256). */
export const ATTESTATION_TAG_BYTES = 16;

/** An update and the relay's tag over it. */
export interface AttestedUpdate {
  update: Uint8Array;
  tag: Uint8Array;
}

/** Encodes an `attested` frame. */
export function encodeAttested(update: Uint8Array, tag: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.attested);
  encoding.writeVarUint8Array(encoder, update);
  encoding.writeVarUint8Array(encoder, tag);
  return encoding.toUint8Array(encoder);
}

/**
 * Decodes the body of an `attested` frame (after the type). Throws a {@link ParleyError} with code
 * `ERR_BAD_FRAME` if the tag has the wrong length.
 */
export function readAttested(decoder: decoding.Decoder): AttestedUpdate {
  const update = decoding.readVarUint8Array(decoder);
  const tag = decoding.readVarUint8Array(decoder);
  if (tag.length !== ATTESTATION_TAG_BYTES) {
    throw new ParleyError(ErrorCode.BadFrame, `attested frame: the tag must be ${ATTESTATION_TAG_BYTES} bytes`);
  }
  return { update, tag };
}

/**
 * What an attestation tag is computed over comes in two parts: these bytes, then the update itself. Together they
 * are a domain label, the room name and the update, each length-prefixed (lib0 `varString`, `varString`,
 * `varUint8Array`), so that no two (room, update) pairs share an encoding; the update is not copied to build them.
 */
export function attestationPrefix(room: string, updateLength: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarString(encoder, "parley.attested.v1");
  encoding.writeVarString(encoder, room);
  encoding.writeVarUint(encoder, updateLength);
  return encoding.toUint8Array(encoder);
}

/** Whether `stateVector` covers every struct of `update` (then the relay holds all of it). */
export function isCoveredBy(update: Uint8Array, stateVector: Map<number, number>): boolean {
  for (const [client, clock] of Y.parseUpdateMeta(update).to) {
    if ((stateVector.get(client) ?? 0) < clock) return false;
  }
  return true;
}
