/**
 * The whole document as one encoded update, and as one sync step 2 frame, cached per document version.
 *
 * A client with nothing of a conversation asks for all of it (a sync step 1 with an empty state vector):
 * encoding a 100,000-message document costs ~0.3 s of CPU and a 16 MB reply. Encoded once per version and
 * shared by every connection that asks (the same bytes are handed to every socket), a flood of such requests
 * costs neither CPU nor a copy of the document per request. Any change of the document starts a new version.
 */
import { MessageType } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";

/** The cached full state of one document. Get it with {@link fullStateOf}. */
export class FullStateCache {
  private update: Uint8Array | null = null;
  private frame: Uint8Array | null = null;

  constructor(private readonly doc: Y.Doc) {
    doc.on("update", () => {
      this.update = null;
      this.frame = null;
    });
  }

  /** The whole document as a Yjs v1 update, encoded at most once per version. Do not modify it. */
  fullUpdate(): Uint8Array {
    this.update ??= Y.encodeStateAsUpdate(this.doc);
    return this.update;
  }

  /**
   * A sync step 2 frame carrying `update`: the cached frame when `update` is this version's
   * {@link fullUpdate}, otherwise a newly encoded one.
   */
  syncStep2Frame(update: Uint8Array): Uint8Array {
    if (update === this.update) {
      this.frame ??= encodeStep2(update);
      return this.frame;
    }
    return encodeStep2(update);
  }

  /**
   * The update a peer with `stateVector` lacks: the cached full state when the state vector knows none of
   * the document's clocks (an empty one, or one naming only clientIDs the document lacks).
   */
  updateSince(stateVector: Uint8Array): Uint8Array {
    return knowsNothing(this.doc, Y.decodeStateVector(stateVector))
      ? this.fullUpdate()
      : Y.encodeStateAsUpdate(this.doc, stateVector);
  }
}

function encodeStep2(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.sync);
  encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

function knowsNothing(doc: Y.Doc, stateVector: Map<number, number>): boolean {
  for (const [client, clock] of stateVector) if (clock > 0 && doc.store.clients.has(client)) return false;
  return true;
}

const caches = new WeakMap<Y.Doc, FullStateCache>();

/** The full-state cache of `doc` (created on first use; lives as long as the document). */
export function fullStateOf(doc: Y.Doc): FullStateCache {
  let cache = caches.get(doc);
  if (cache === undefined) {
    cache = new FullStateCache(doc);
    caches.set(doc, cache);
  }
  return cache;
}
