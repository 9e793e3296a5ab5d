/**
 * Writes the conversation index (the storage's `ConversationIndex` capability, storage/conversation-index.ts):
 * each loaded room's summary, by the node serving the room, under the room's fence.
 *
 * When: when the room loads (repairing an entry that a crash left behind the stored document), after its changes
 * are durable — at once if the room has not written for {@link SUMMARY_INTERVAL_MS}, else at the end of that
 * interval, so a chatty room writes about once a second whatever its traffic — when it unloads with a write still
 * owed, and at once when the business API asks ({@link SummaryWriter.flush}: its writes are listed before they
 * are answered).
 *
 * What: the summary of the room's document, taken only while everything in it is durable (its stored state
 * vector is the document's), so the list never shows a change the relay could still lose; a write owed while
 * appends are in flight waits for the next `onStored`. A room with nothing stored writes nothing; one whose
 * subject is gone (an erased anonymous subject's tombstone) writes `null`, "stored, nothing to list". Writes of
 * one room are issued one after the other, in order. A write refused as fenced means the room moved to another
 * node (or was erased), which writes its own: it is dropped.
 */
import { FencedError } from "@parley/protocol";
import * as Y from "yjs";
import type { RoomHandle as Room } from "../../core/extension.js";
import type { Logger } from "../../core/logger.js";
import type { ConversationIndex } from "../../storage/conversation-index.js";
import { type ConversationSummary, subjectExists, summarize } from "./business-view.js";

/** Least time between two index writes of one room (ms). */
export const SUMMARY_INTERVAL_MS = 1000;

interface RoomState {
  timer: NodeJS.Timeout | undefined;
  /** A write is owed and waits for the document to be durable. */
  owed: boolean;
  /** When the last write was issued (ms since the epoch). */
  lastWrite: number;
  /** The room's writes, chained in order. */
  chain: Promise<void>;
  /** Flushes waiting for the owed write. */
  waiters: Array<() => void>;
}

/** Whether everything in the room's document is durably stored. */
function isDurable(room: Room): boolean {
  const stored = Y.decodeStateVector(room.storedStateVector());
  const current = Y.decodeStateVector(Y.encodeStateVector(room.doc));
  if (stored.size !== current.size) return false;
  for (const [client, clock] of current) if (stored.get(client) !== clock) return false;
  return true;
}

/** What the index holds for `room`: its summary, `null` (stored, nothing to list) or `undefined` (nothing stored). */
function entryOf(room: Room): ConversationSummary | null | undefined {
  if (room.doc.store.clients.size === 0) return undefined;
  return subjectExists(room.doc) ? summarize(room.ref, room.doc) : null;
}

/** Keeps the conversation index current with the rooms loaded on this node. */
export class SummaryWriter {
  /** By room object: a failed room is dropped by the registry without an unload, and must not be kept here. */
  private readonly states = new WeakMap<Room, RoomState>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly index: ConversationIndex,
    private readonly logger: Logger,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {}

  /** The room loaded: its entry is written soon, repairing whatever a crash left behind. */
  loaded(room: Room): void {
    this.schedule(room);
  }

  /** The room's durable state advanced. */
  stored(room: Room): void {
    const state = this.states.get(room);
    if (state?.owed === true) this.write(room, state);
    else this.schedule(room);
  }

  /** The room is unloading (its document is still readable): a write still owed is issued now. */
  unloaded(room: Room): void {
    const state = this.states.get(room);
    if (state === undefined) return;
    if (state.timer !== undefined || state.owed) {
      clearTimeout(state.timer);
      state.timer = undefined;
      this.write(room, state);
    }
    this.release(state);
    this.states.delete(room);
  }

  /**
   * Writes the room's entry now (once its document is durable) and resolves when written, or when the write was
   * refused or failed (logged): the caller's own write is durable either way. Waits at most one interval for the
   * document to become durable (a room that fails meanwhile never does; its next load writes the entry).
   */
  flush(room: Room): Promise<void> {
    const state = this.stateOf(room);
    clearTimeout(state.timer);
    state.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const written = new Promise<void>((resolve) => {
      state.waiters.push(resolve);
      timer = setTimeout(resolve, this.intervalMs);
      timer.unref();
    });
    this.write(room, state);
    return written.finally(() => clearTimeout(timer));
  }

  /** Waits for the writes in flight (the rooms were unloaded before). */
  async close(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private stateOf(room: Room): RoomState {
    let state = this.states.get(room);
    if (state === undefined) {
      state = { timer: undefined, owed: false, lastWrite: -Infinity, chain: Promise.resolve(), waiters: [] };
      this.states.set(room, state);
    }
    return state;
  }

  private schedule(room: Room): void {
    const state = this.stateOf(room);
    if (state.timer !== undefined || state.owed) return;
    const delay = Math.max(0, state.lastWrite + this.intervalMs - Date.now());
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.write(room, state);
    }, delay);
    state.timer.unref();
  }

  /** Issues the owed write if the document is durable; otherwise the next `stored` does. */
  private write(room: Room, state: RoomState): void {
    state.owed = true;
    if (!room.isOpen) {
      // Failed or fenced: whatever it holds may not be stored. The node serving it now writes its own entry.
      this.release(state);
      return;
    }
    if (!isDurable(room)) return;
    const entry = entryOf(room);
    const fence = room.fence;
    if (entry === undefined || fence === null) {
      // Nothing stored, so nothing to index: the room's first change is then written at once.
      this.release(state);
      return;
    }
    state.owed = false;
    state.lastWrite = Date.now();
    const waiters = state.waiters;
    state.waiters = [];
    const name = room.name;
    const put = async (): Promise<void> => {
      try {
        await this.index.put(name, entry, fence);
      } catch (error) {
        if (error instanceof FencedError) this.logger.debug("conversation index write fenced", { room: name });
        else this.logger.warn("conversation index write failed", { room: name, error });
      }
    };
    const done = state.chain.then(put).finally(() => {
      this.inFlight.delete(done);
      for (const resolve of waiters) resolve();
    });
    state.chain = done;
    this.inFlight.add(done);
  }

  private release(state: RoomState): void {
    state.owed = false;
    for (const resolve of state.waiters.splice(0)) resolve();
  }
}
