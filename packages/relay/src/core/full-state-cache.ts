/**
 * The whole document as one encoded update, and as one sync step 2 frame, cached per document version.
 *
 * A client with nothing of a conversation asks for all of it (a sync step 1 with an empty state vector):
 * encoding a 100,000-message document costs ~0.3 s of CPU and a 16 MB reply. Encoded once per version and
 * shared by every connection that asks (the same bytes are handed to every socket), a flood of such requests
 * costs neither CPU nor a copy of the document per request.
 *
 * A version lasts only until the next change, and every join changes the document (its client record): each new
 * client of a long conversation would pay the whole encoding again. So a full encoding is kept past small changes
 * ({@link FullStateCache.replyFrames}): a client that knows nothing gets it as a sync update, then a sync step 2
 * with what changed since (a few hundred bytes, about a millisecond to encode). Yjs applies the two as one; the
 * client counts itself synced at the step 2, once it holds everything, as it would after one step 2.
 */
import { MessageType } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";

/**
 * The most a client that knows nothing is sent on top of a kept full encoding (what changed since it, one sync
 * step 2 frame). Past this the document is encoded again. Small enough never to be a large frame.
 */
export const MAX_DELTA_BYTES = 64 * 1024;

/** A full encoding: the step 2 frame, the update inside it, and the state vector it covers. */
interface FullEncoding {
  readonly step2: Uint8Array;
  readonly update: Uint8Array;
  readonly stateVector: Uint8Array;
  /** The same update as a sync update frame, made when first sent ahead of a step 2. */
  updateFrame: Uint8Array | null;
}

/** The cached full state of one document. Get it with {@link fullStateOf}. */
export class FullStateCache {
  private full: FullEncoding | null = null;
  /** Whether the document changed since {@link FullStateCache.full} was encoded. */
  private changed = false;

  constructor(private readonly doc: Y.Doc) {
    doc.on("update", () => {
      this.changed = true;
    });
  }

  /** The whole document as a Yjs v1 update, encoded at most once per version. Do not modify it. */
  fullUpdate(): Uint8Array {
    return this.current().update;
  }

  /**
   * A sync step 2 frame carrying `update`: the cached frame when `update` is this version's
   * {@link fullUpdate}, otherwise a newly encoded one.
   */
  syncStep2Frame(update: Uint8Array): Uint8Array {
    if (update === this.full?.update) return this.full.step2;
    return frame(syncProtocol.messageYjsSyncStep2, update);
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

  /**
   * The frames answering a sync step 1 with `stateVector`, the step 2 last: one step 2 with what the peer lacks;
   * or, for a peer that knows nothing while the document changed by at most {@link MAX_DELTA_BYTES} since its
   * kept full encoding, that encoding as a sync update and a step 2 with the rest. The first frame is the large
   * one. Do not modify them (they are shared).
   */
  replyFrames(stateVector: Uint8Array): Uint8Array[] {
    if (!knowsNothing(this.doc, Y.decodeStateVector(stateVector))) {
      return [frame(syncProtocol.messageYjsSyncStep2, Y.encodeStateAsUpdate(this.doc, stateVector))];
    }
    const kept = this.full;
    if (kept !== null && this.changed) {
      const delta = Y.encodeStateAsUpdate(this.doc, kept.stateVector);
      if (delta.length <= MAX_DELTA_BYTES) {
        kept.updateFrame ??= frame(syncProtocol.messageYjsUpdate, kept.update);
        return [kept.updateFrame, frame(syncProtocol.messageYjsSyncStep2, delta)];
      }
    }
    return [this.current().step2];
  }

  /** The full encoding of this version. */
  private current(): FullEncoding {
    if (this.full === null || this.changed) {
      const encoded = Y.encodeStateAsUpdate(this.doc);
      const step2 = frame(syncProtocol.messageYjsSyncStep2, encoded);
      // The update is kept as the frame's tail: one copy of the document, not two.
      this.full = {
        step2,
        update: step2.subarray(step2.length - encoded.length),
        stateVector: Y.encodeStateVector(this.doc),
        updateFrame: null,
      };
      this.changed = false;
    }
    return this.full;
  }
}

/** A sync frame of `syncType` carrying `update`, written with one copy of it. */
function frame(syncType: number, update: Uint8Array): Uint8Array {
  const header = encoding.createEncoder();
  encoding.writeVarUint(header, MessageType.sync);
  encoding.writeVarUint(header, syncType);
  encoding.writeVarUint(header, update.length);
  const head = encoding.toUint8Array(header);
  const out = new Uint8Array(head.length + update.length);
  out.set(head, 0);
  out.set(update, head.length);
  return out;
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
