/**
 * Login from an anonymous identity, with the merge of the anonymous thread.
 *
 * The anonymous thread and profile are merged into the user's conversation locally at once (usable
 * offline, idempotent), and the identity record keeps the anonymous secret as `pendingMerge` until the
 * relay has merged its own copy on the first synced connection (the `merge` parameter); then the
 * anonymous thread is erased from the store. Until then the merged content is not stored in the user's
 * room: it shows `pending` and a logout or switch refuses for it (a logout would revoke the anonymous room
 * the relay merges from, and the content would be lost). A refused token puts the anonymous identity back with
 * everything written meanwhile.
 *
 * A merge the relay refuses (4409 `merge`: the anonymous thread breaks the authorship rules) is refused for
 * good: the anonymous identity is put back the same way, marked `mergeRefused` in the store, and the typed
 * error is surfaced once — the login rejects with it, or, when nobody awaits the answer (a login that timed out
 * offline), it is reported as an `error` event. A later login from that identity asks for no merge (a switch).
 */
import {
  AuthorshipError,
  createSecret,
  encodeMergeUpdate,
  ownersOf,
  type ParleyError,
  RELAY_OWNER,
} from "@parley/protocol";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import type { Session } from "../conversation/session.js";
import type { ClientState } from "../state.js";
import {
  type AnonymousSubject,
  type IdentityRecord,
  readIdentity,
  sameSubject,
  type UserSubject,
  withIdentityLock,
  writeIdentity,
} from "./identity-record.js";

export class Login {
  /** The relay's merge being recorded (the anonymous thread erased); a login awaits it before resolving. */
  private completion: Promise<void> = Promise.resolve();

  constructor(private readonly state: ClientState) {}

  /** Logs in from the current anonymous identity (runs inside the operation queue). */
  async fromAnonymous(anonymous: AnonymousSubject, userId: string, jwt: string): Promise<{ authenticated: boolean }> {
    const state = this.state;
    const anonymousSecret = anonymous.secret;
    await state.currentSession().persist();
    await state.closeSession();
    await state.replaceSubject({
      kind: "user",
      userId,
      token: jwt,
      nonce: createSecret(),
      pendingMerge: anonymousSecret,
    });
    await state.openSession();
    const outcome = await state.waitForRelay();
    state.assertAlive();
    if (outcome.kind === "timeout") return { authenticated: false };
    if (outcome.kind === "synced") {
      await this.completion;
      return { authenticated: true };
    }
    await this.restore(isMergeRefusal(outcome.error) ? { ...anonymous, mergeRefused: true } : anonymous);
    throw outcome.error;
  }

  /**
   * The relay refused the merge of `subject.pendingMerge` with nobody awaiting the answer: puts that anonymous
   * identity back, marked so that no later login asks for the merge again (runs the undo in the operation
   * queue; resolves once it is done).
   */
  mergeRefused(subject: UserSubject): Promise<void> {
    const state = this.state;
    return state.queue.enqueue(async () => {
      const current = state.currentRecord().current;
      if (current.kind !== "user" || !sameSubject(current, subject) || current.pendingMerge === undefined) return;
      await this.restore({
        kind: "anonymous",
        secret: current.pendingMerge,
        nonce: createSecret(),
        mergeRefused: true,
      });
    });
  }

  /**
   * Puts the anonymous identity `anonymous` back and erases the half-made user thread. The relay sent nothing
   * before refusing, so that thread holds only the anonymous one plus what was written meanwhile: keep that.
   */
  private async restore(anonymous: AnonymousSubject): Promise<void> {
    const state = this.state;
    const userSession = state.currentSession();
    await userSession.persist();
    const userDoc = new Y.Doc();
    Y.applyUpdate(userDoc, Y.encodeStateAsUpdate(userSession.doc));
    await state.closeSession();
    await state.replaceSubject(anonymous);
    await state.eraseRoom(userSession.room);
    await state.openSession();
    const restored = state.currentSession();
    Y.applyUpdate(restored.doc, writtenSince(userDoc, restored.doc));
    userDoc.destroy();
    await restored.persist();
  }

  /** Applies the stored anonymous thread into the user's document (idempotent, works offline). */
  async mergeLocally(session: Session, anonymousSecret: string): Promise<void> {
    const storage = this.state.storage;
    const anonymousRoom = this.state.anonymousRoom(anonymousSecret);
    if (!(await storage.listDocs()).includes(anonymousRoom)) return;
    const anonymousDoc = new Y.Doc();
    const handle = await storage.openDoc(anonymousRoom, anonymousDoc);
    try {
      // As the relay merges: never its relay-only data (client records, owners), which it does not copy.
      Y.applyUpdate(session.doc, encodeMergeUpdate(anonymousDoc));
      // What the relay stored in the anonymous room is not stored in the user's room until the relay has
      // merged it: only the relay's `stored` state of this room counts (unsent.ts).
      await session.persist();
    } finally {
      await handle.close();
      anonymousDoc.destroy();
    }
  }

  /** The user's conversation synced with `merge`: the relay has merged; forget the anonymous thread. */
  synced(subject: UserSubject): void {
    if (subject.pendingMerge === undefined) return;
    this.completion = this.complete(subject).catch((error: unknown) => this.state.report(error));
  }

  private async complete(subject: UserSubject): Promise<void> {
    const state = this.state;
    const anonymousSecret = subject.pendingMerge;
    if (anonymousSecret === undefined) return;
    const { storage, options } = state;
    const updated = await withIdentityLock(storage, options.appId, async () => {
      const stored = await readIdentity(storage, options.appId);
      if (stored === undefined || stored.current.kind !== "user" || !sameSubject(stored.current, subject)) return null;
      // Another instance completed it already (and erases the anonymous thread).
      if (stored.current.pendingMerge === undefined) return null;
      const { pendingMerge: _merged, ...rest } = stored.current;
      const record: IdentityRecord = { clientSecret: stored.clientSecret, current: rest };
      await writeIdentity(storage, options.appId, record);
      return record;
    });
    if (updated === null) return;
    if (state.record !== undefined && sameSubject(state.record.current, subject)) state.record = updated;
    state.tabs?.announceIdentity();
    await state.eraseRoom(state.anonymousRoom(anonymousSecret));
  }
}

/** Whether the relay refused a login merge as a whole (4409 `merge`): it will refuse that merge every time. */
export function isMergeRefusal(error: ParleyError): boolean {
  return error instanceof AuthorshipError && error.reason === "merge";
}

/**
 * What `doc` holds beyond `base`, as an update for `base`: its structs past `base`'s state, and the
 * deletes of clientIDs the relay does not own in `base`. (The local merge left the relay's data out as GC
 * placeholders, which count as deleted; replaying that on `base` would delete the relay's records.)
 */
function writtenSince(doc: Y.Doc, base: Y.Doc): Uint8Array {
  const relayClients = new Set<number>();
  for (const [client, owner] of ownersOf(base).entries()) if (owner === RELAY_OWNER) relayClients.add(Number(client));
  const encoder = new Y.UpdateEncoderV1();
  const newer = [...doc.store.clients.entries()].filter(
    ([client]) => Y.getState(doc.store, client) > Y.getState(base.store, client),
  );
  encoding.writeVarUint(encoder.restEncoder, newer.length);
  for (const [client, structs] of newer) {
    const clock = Y.getState(base.store, client);
    const first = Y.findIndexSS(structs, clock);
    encoding.writeVarUint(encoder.restEncoder, structs.length - first);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, clock);
    for (let i = first; i < structs.length; i++) {
      const struct = structs[i] as Y.Item | Y.GC;
      struct.write(encoder, i === first ? clock - struct.id.clock : 0);
    }
  }
  const deletes = [...Y.createDeleteSetFromStructStore(doc.store).clients].filter(([c]) => !relayClients.has(c));
  encoding.writeVarUint(encoder.restEncoder, deletes.length);
  for (const [client, ranges] of deletes) {
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, ranges.length);
    for (const range of ranges) {
      encoding.writeVarUint(encoder.restEncoder, range.clock);
      encoding.writeVarUint(encoder.restEncoder, range.len);
    }
  }
  return encoder.toUint8Array();
}
