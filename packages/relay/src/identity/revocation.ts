/**
 * Revocation of anonymous subjects, kept in the anonymous document's relay-only `meta` map so it is as
 * durable as the document itself: `meta.revoked = true` after a logout or a merge, and
 * `meta.mergedInto = <userId>` after a merge. A revoked anonymous secret opens nothing any more.
 */
import { metaOf } from "@parley/protocol";
import type * as Y from "yjs";

/** The revocation state of an anonymous document. */
export interface Revocation {
  revoked: boolean;
  /** The userId the anonymous subject was merged into, if it was. */
  mergedInto?: string;
}

/** Reads the revocation state of an anonymous document. */
export function revocationOf(doc: Y.Doc): Revocation {
  const meta = metaOf(doc);
  const mergedInto = meta.get("mergedInto");
  const revoked = meta.get("revoked") === true;
  return typeof mergedInto === "string" ? { revoked, mergedInto } : { revoked };
}

/** Revokes an anonymous document; call inside a relay transaction. */
export function revoke(doc: Y.Doc, mergedInto?: string): void {
  const meta = metaOf(doc);
  if (meta.get("revoked") !== true) meta.set("revoked", true);
  if (mergedInto !== undefined && meta.get("mergedInto") !== mergedInto) meta.set("mergedInto", mergedInto);
}

/** Key of the mark an erased conversation's tombstone carries (erasure.ts): it holds no subject any more. */
export const ERASED_KEY = "erased";

/** Whether the document is the tombstone of an erased conversation. */
export function isErased(doc: Y.Doc): boolean {
  return metaOf(doc).get(ERASED_KEY) === true;
}
