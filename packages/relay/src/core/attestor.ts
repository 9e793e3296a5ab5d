/**
 * The relay's attestations: a tag over (room, update) under the storage's attestation key, handed out with
 * every change forwarded before it is durable, and checked when a client hands such an update back after a
 * crash (see `attestation.ts` in @parley/protocol for the rule, and the relay README's Durability section).
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { ATTESTATION_TAG_BYTES, attestationPrefix } from "@parley/protocol";

/** Tags and verifies attested updates under one key. */
export class Attestor {
  /** Imported once: an HMAC from raw key bytes imports them again on every call. */
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  /** The tag of `update` in `room`. */
  tag(room: string, update: Uint8Array): Uint8Array {
    const mac = createHmac("sha256", this.key).update(attestationPrefix(room, update.length)).update(update).digest();
    return new Uint8Array(mac.buffer, mac.byteOffset, ATTESTATION_TAG_BYTES);
  }

  /** Whether `tag` is this relay's tag of `update` in `room` (compared in constant time). */
  verify(room: string, update: Uint8Array, tag: Uint8Array): boolean {
    return tag.length === ATTESTATION_TAG_BYTES && timingSafeEqual(this.tag(room, update), tag);
  }
}
