/**
 * A room's presence: the y-protocols awareness of its connections, who introduced which awareness clientID,
 * and the frames that carry it. The rules on what a connection may show are in authorship/awareness-check.ts;
 * here they are applied, presence is relayed to every connection, and a connection's entries (states and
 * meta) are removed when it leaves, so presence never outgrows the connections present.
 */
import { MessageType, ownersOf } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import * as awarenessProtocol from "y-protocols/awareness";
import type * as Y from "yjs";
import { type AwarenessVerdict, checkAwarenessUpdate } from "../authorship/awareness-check.js";

/** A connection as presence sees it. */
export interface PresencePeer {
  readonly clientId: string;
  send(frame: Uint8Array): void;
}

interface AwarenessChange {
  added: number[];
  updated: number[];
  removed: number[];
}

/** Encodes an awareness frame with the states of `clients`. */
export function awarenessFrame(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.awareness);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoding.toUint8Array(encoder);
}

/** The presence of one room. */
export class Presence {
  /** The awareness, made when first needed (see {@link Presence.awareness}). */
  private made: awarenessProtocol.Awareness | null = null;
  /** The awareness clientIDs each connection introduced (bounded: MAX_PRESENCE_IDS each). */
  private readonly idsOf = new Map<PresencePeer, Set<number>>();

  constructor(
    private readonly doc: Y.Doc,
    private readonly peers: () => Iterable<PresencePeer>,
  ) {}

  /**
   * The awareness; the relay's own local state speaks for the business (business API typing). Made on first use
   * (a presence frame, the business API): most rooms never see one, and each awareness costs its construction and
   * a timer every 3 s for as long as the room is loaded.
   */
  get awareness(): awarenessProtocol.Awareness {
    if (this.made === null) {
      const awareness = new awarenessProtocol.Awareness(this.doc);
      awareness.setLocalState(null);
      awareness.on("update", (change: AwarenessChange) => this.relay(change));
      this.made = awareness;
    }
    return this.made;
  }

  /** A frame with every state present now, or `null` if nobody is present. */
  presentFrame(): Uint8Array | null {
    if (this.made === null) return null;
    const present = [...this.made.getStates().keys()];
    return present.length === 0 ? null : awarenessFrame(this.made, present);
  }

  /**
   * Applies an awareness update from `peer`, within the rules. Returns the refusal, or `null`. Throws on
   * undecodable input.
   */
  apply(update: Uint8Array, peer: PresencePeer): Exclude<AwarenessVerdict, { ok: true }> | null {
    const mine = this.idsOf.get(peer);
    if (mine === undefined) return null;
    const owners = ownersOf(this.doc);
    const verdict = checkAwarenessUpdate(
      update,
      (clientID) => {
        if (mine.has(clientID)) return "self";
        if (clientID === this.awareness.clientID) return "other";
        for (const ids of this.idsOf.values()) if (ids.has(clientID)) return "other";
        const owner = owners.get(String(clientID));
        return owner === undefined || owner === peer.clientId ? undefined : "other";
      },
      mine.size,
    );
    if (!verdict.ok) return verdict;
    for (const id of verdict.introduced) mine.add(id);
    if (verdict.update !== null) awarenessProtocol.applyAwarenessUpdate(this.awareness, verdict.update, peer);
    return null;
  }

  /** Starts tracking a connection's presence. */
  join(peer: PresencePeer): void {
    this.idsOf.set(peer, new Set());
  }

  /** Removes a connection's presence: its states (relayed as removals) and their meta entries. */
  leave(peer: PresencePeer): void {
    const ids = this.idsOf.get(peer);
    this.idsOf.delete(peer);
    if (ids === undefined || ids.size === 0 || this.made === null) return;
    awarenessProtocol.removeAwarenessStates(this.made, [...ids], null);
    for (const id of ids) this.made.meta.delete(id);
  }

  /** Stops the awareness (its timers), if it was made. */
  destroy(): void {
    this.made?.destroy();
  }

  private relay(change: AwarenessChange): void {
    const changed = [...change.added, ...change.updated, ...change.removed];
    if (changed.length === 0) return;
    const frame = awarenessFrame(this.awareness, changed);
    for (const peer of this.peers()) peer.send(frame);
  }
}

/**
 * Answers `queryAwareness` frames of one connection: at most one answer per `intervalMs` (10 a second by
 * default), and queries that arrive meanwhile share the next answer.
 */
export class AwarenessQueries {
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly answer: () => void,
    private readonly intervalMs = 100,
  ) {}

  /** A query arrived. */
  ask(): void {
    if (this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - performance.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }

  /** The connection closed. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.last = performance.now();
    this.answer();
  }
}
