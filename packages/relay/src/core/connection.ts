/**
 * One admitted WebSocket on a room: decodes frames, runs the y-protocols sync and awareness exchange,
 * checks every update before it is applied, sends `stored` acks, and ends the session when the token
 * expires. A frame it cannot decode or does not allow ends only this connection, and so does going over a
 * limit (limits.ts): a frame budget, the heartbeat, or too many outgoing bytes waiting.
 */
import {
  CloseCode,
  type CloseReasonOf,
  encodeRefreshed,
  encodeStored,
  MessageType,
  type RefreshAnswer,
  readAttested,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import type { WebSocket } from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import type { Verdict } from "../authorship/authorship.js";
import type { Admission } from "../identity/admission.js";
import type { Credential } from "../identity/credential.js";
import type { KeyRing } from "../identity/jwt.js";
import { logOut } from "../identity/logout.js";
import { verifyRefresh } from "../identity/token-refresh.js";
import { chargeDocument, chargeSyncClientIds, countNewClientIds } from "../limits/client-id-budget.js";
import { FrameBudget } from "../limits/frame-budget.js";
import type { Limits } from "../limits/limits.js";
import type { ReplyQueue } from "../limits/reply-queue.js";
import type { RevocationStore } from "../storage/revocation-store.js";
import type { Extensions } from "./extensions.js";
import { type Heartbeat, startHeartbeat } from "./heartbeat.js";
import type { Logger } from "./logger.js";
import { AwarenessQueries, awarenessFrame } from "./presence.js";
import { closeSocket, Refusal } from "./refusal.js";
import type { Room } from "./room.js";
import type { RoomPeer } from "./room-peer.js";

/** Longest delay a Node timer honours; longer (or NaN) ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const verdictRefusal: Record<Exclude<Verdict, { ok: true }>["code"], (detail: string) => Refusal> = {
  authorship: (detail) => new Refusal(CloseCode.Authorship, "authorship", detail),
  "bad-frame": (detail) => new Refusal(CloseCode.BadFrame, "undecodable", detail),
  resync: (detail) => new Refusal(CloseCode.Resync, "missing-dependency", detail),
};

/** Options of a {@link Connection}. */
export interface ConnectionOptions {
  limits: Limits;
  logger: Logger;
  /** Accepted clock skew in seconds, added to the token's `exp`. */
  clockToleranceS: number;
  /** Told about frames refused. */
  extensions: Extensions;
  /** The relay-wide bound on large sync replies waiting to be written. */
  replies: ReplyQueue;
  /** Verifies `refresh` tokens (identity/token-refresh.ts). */
  keys: KeyRing;
  /** Loads the room again after it hibernated (hibernation.ts). */
  rooms: { open(name: string): Promise<Room> };
  /** Where a logout revokes an anonymous subject for every node, if the storage offers it. */
  revocations?: RevocationStore | undefined;
}

/** An admitted connection, joined to its room by {@link Connection.start}. */
export class Connection implements RoomPeer {
  readonly clientId: string;
  readonly wantsAcks: boolean;
  readonly attests: boolean;
  synced = false;
  private closing = false;
  /** Frames received while the room hibernates, or `null` while it is loaded. */
  private parked: Uint8Array[] | null = null;
  /** Sync requests being answered (awaiting durability); with `replying` and `deferredStep1`: see {@link busy}. */
  private answering = 0;
  private waking = false;
  private leftWhileParked = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly budget: FrameBudget;
  private heartbeat: Heartbeat | undefined;
  /** queryAwareness answers: coalesced, at most 10 a second. */
  private readonly queries = new AwarenessQueries(() => {
    if (!this.closing) this.send(this.room.presence.presentFrame() ?? awarenessFrame(this.room.awareness, []));
  });
  /**
   * Bytes of frames larger than `maxFrameBytes` (sync replies, forwarded sync steps: as big as a document)
   * not yet handed to the socket. They do not count as falling behind, or no big document could be synced.
   */
  private bigBytesInFlight = 0;
  /** Whether a large sync reply (over `maxFrameBytes`) is not written yet: another step 1 waits for it. */
  private replying = false;
  /** The one sync step 1 that waits for the reply in progress; a further one is refused. */
  private deferredStep1: Uint8Array | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly admission: Admission,
    private room: Room,
    private readonly options: ConnectionOptions,
  ) {
    this.clientId = admission.clientId;
    this.wantsAcks = admission.acks;
    this.attests = admission.attest;
    this.budget = new FrameBudget(options.limits);
  }

  /**
   * Joins the room, sends the `recent` preview (if asked), the relay's sync step 1 and presence, then
   * handles `queued` frames.
   */
  start(queued: Array<{ data: Buffer; isBinary: boolean }>): void {
    const stamp =
      this.admission.userAgent === undefined
        ? { info: this.admission.info }
        : { info: this.admission.info, userAgent: this.admission.userAgent };
    this.room.join(this, stamp);
    this.ws.on("close", (code: number) => this.onClose(code));
    this.ws.on("message", (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    this.armExpiry();
    this.heartbeat = startHeartbeat(this.ws, this.options.limits, (reason) => this.close(CloseCode.Timeout, reason));

    if (this.admission.tail !== undefined) this.send(this.room.recentFrame(this.admission.tail));
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.sync);
    syncProtocol.writeSyncStep1(encoder, this.room.doc);
    this.send(encoding.toUint8Array(encoder));
    const present = this.room.presence.presentFrame();
    if (present !== null) this.send(present);
    for (const frame of queued) this.onFrame(frame.data, frame.isBinary);
  }

  /** Sends a frame; `written` is called once it was written, or will never be (the socket is gone). */
  send(frame: Uint8Array, written?: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      written?.();
      return;
    }
    // A peer that does not read must not make the relay buffer without bound.
    if (this.ws.bufferedAmount > this.options.limits.maxBufferedBytes + this.bigBytesInFlight) {
      this.options.logger.info("slow consumer", { room: this.room.name, client: this.clientId });
      this.close(CloseCode.Timeout, "slow-reader", "too far behind");
      written?.();
      return;
    }
    // One frame over maxFrameBytes at a time is not counted as falling behind (else no big document could be
    // synced); a second one while it is written counts.
    const big = frame.length > this.options.limits.maxFrameBytes && this.bigBytesInFlight === 0 ? frame.length : 0;
    this.bigBytesInFlight += big;
    this.ws.send(frame, (error) => {
      this.bigBytesInFlight -= big;
      if (error) this.options.logger.debug("send failed", { room: this.room.name, error });
      written?.();
    });
  }

  /** The key and token id this connection's token stands on (see `Admission.credential`); a refresh replaces it. */
  get credential(): Credential | undefined {
    return this.admission.credential;
  }

  close<C extends CloseCode>(code: C, reason: CloseReasonOf<C>, detail = ""): void {
    this.closing = true;
    closeSocket(this.ws, code, reason, detail);
  }

  private onClose(code: number): void {
    this.options.logger.debug("connection closed", { room: this.room.name, client: this.clientId, code });
    this.closing = true;
    clearTimeout(this.expiryTimer);
    this.heartbeat?.stop();
    this.queries.stop();
    if (this.parked === null) {
      this.room.leave(this);
      return;
    }
    // Its `lastSeen` needs the room: load it (attach then leaves).
    this.leftWhileParked = true;
    this.wake();
  }

  /** A `refresh` frame: on success the connection ends at the new token's `exp` instead of the old one's. */
  private async refresh(token: string): Promise<void> {
    try {
      const outcome = await verifyRefresh(this.options.keys, this.room.ref, token);
      if (this.closing) return;
      // A reload that ran while the token was verified may have removed its key or denied it since.
      const late = outcome.credential === undefined ? null : this.options.keys.problem(outcome.credential);
      const answer: RefreshAnswer = late === null ? outcome.answer : { accepted: false, reason: late };
      if (answer.accepted) {
        if (outcome.credential !== undefined) this.admission.credential = outcome.credential;
        this.admission.exp = answer.exp;
        clearTimeout(this.expiryTimer);
        this.armExpiry();
      }
      this.send(encodeRefreshed(answer));
    } catch (error) {
      // Nothing may escape this un-awaited task: an unhandled rejection would end the relay.
      if (!(error instanceof Refusal)) {
        this.options.logger.warn("refresh failed", { room: this.room.name, error });
        this.close(CloseCode.InternalError, "internal");
        return;
      }
      this.options.logger.info("connection refused a refresh", { room: this.room.name, reason: error.reason });
      this.close(error.code, error.reason, error.detail);
    }
  }

  private armExpiry(): void {
    if (this.admission.exp === undefined) return;
    const deadline = (this.admission.exp + this.options.clockToleranceS) * 1000;
    const delay = deadline - Date.now();
    if (!(delay > 0)) {
      this.close(CloseCode.TokenExpired, "expired", "token expired");
      return;
    }
    // Far-away deadlines wait in steps: a single timer over 2^31-1 ms would fire immediately.
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(delay, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /** Whether it is answering a sync request: its room must not hibernate under it. */
  get busy(): boolean {
    return this.answering > 0 || this.replying || this.deferredStep1 !== null;
  }

  /** The room it is in now (another object after a hibernation). */
  get currentRoom(): Room {
    return this.room;
  }

  /** Its room hibernated (hibernation.ts): frames wait for the room to load again. */
  park(): void {
    this.parked = [];
  }

  /** Its room is loaded again: handles the frames that woke it (or leaves, if the socket closed meanwhile). */
  attach(room: Room): void {
    this.room = room;
    const frames = this.parked ?? [];
    this.parked = null;
    if (this.leftWhileParked) {
      room.leave(this);
      return;
    }
    for (const frame of frames) {
      if (this.closing) return;
      this.guard(() => {
        this.room.touch();
        this.handle(frame);
      });
    }
  }

  /** Loads the hibernating room again; the registry attaches this connection (and the room's others) to it. */
  private wake(): void {
    if (this.waking) return;
    this.waking = true;
    // A failed load closes the parked connections (Rooms.open), and a shutdown already closed them.
    this.options.rooms.open(this.admission.room).then(
      () => {
        this.waking = false;
      },
      () => {},
    );
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    this.heartbeat?.received();
    this.guard(() => {
      if (!isBinary) throw new Refusal(CloseCode.BadFrame, "text-frame", "text frames are not part of the protocol");
      const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.budget.charge(frame);
      if (this.parked !== null) {
        this.parked.push(frame);
        this.wake();
        return;
      }
      this.room.touch();
      this.handle(frame);
    });
  }

  /** Runs frame handling: a refusal or an undecodable frame ends this connection only. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      if (error instanceof Refusal) {
        this.options.logger.info("connection refused a frame", {
          room: this.room.name,
          client: this.clientId,
          code: error.code,
          reason: error.reason,
          detail: error.detail,
        });
        this.options.extensions.refused({
          code: error.code,
          reason: error.reason,
          detail: error.detail,
          room: this.room.ref,
        });
        this.close(error.code, error.reason, error.detail);
      } else {
        this.options.logger.warn("undecodable frame", { room: this.room.name, client: this.clientId, error });
        this.close(CloseCode.BadFrame, "undecodable", "undecodable frame");
      }
    }
  }

  private handle(frame: Uint8Array): void {
    const decoder = decoding.createDecoder(frame);
    const type = decoding.readVarUint(decoder);
    switch (type) {
      case MessageType.sync:
        this.handleSync(decoder);
        return;
      case MessageType.awareness: {
        const refused = this.room.presence.apply(decoding.readVarUint8Array(decoder), this);
        if (refused !== null) {
          throw refused.code === "too-large"
            ? new Refusal(CloseCode.TooLarge, "awareness-size", refused.reason)
            : new Refusal(CloseCode.Authorship, "awareness", refused.reason);
        }
        return;
      }
      case MessageType.attested: {
        if (!this.attests) {
          throw new Refusal(CloseCode.BadFrame, "message-type", "attested frames need attest=1 (with acks=1)");
        }
        const { update, tag } = readAttested(decoder);
        if (!this.room.applyAttested(update, tag, this)) {
          throw new Refusal(CloseCode.Authorship, "attestation", "not the relay's attestation of this update");
        }
        return;
      }
      case MessageType.queryAwareness:
        this.queries.ask();
        return;
      case MessageType.refresh:
        void this.refresh(decoding.readVarString(decoder));
        return;
      case MessageType.logout:
        this.closing = true;
        void logOut({ peer: this, room: this.room, ws: this.ws, ...this.options });
        return;
      default:
        throw new Refusal(CloseCode.BadFrame, "message-type", `unknown message type ${type}`);
    }
  }

  private handleSync(decoder: decoding.Decoder): void {
    const syncType = decoding.readVarUint(decoder);
    if (syncType === syncProtocol.messageYjsSyncStep1) {
      const stateVector = decoding.readVarUint8Array(decoder);
      Y.decodeStateVector(stateVector); // refuse a malformed state vector now, as a bad frame
      if (this.replying) {
        // At most one reply in progress per connection, and one request waiting for it.
        if (this.deferredStep1 !== null)
          throw new Refusal(CloseCode.RateLimited, "sync-overlap", "sync request while one is answered");
        this.deferredStep1 = stateVector;
        return;
      }
      this.beginReply(stateVector);
      return;
    }
    if (syncType === syncProtocol.messageYjsSyncStep2 || syncType === syncProtocol.messageYjsUpdate) {
      const update = decoding.readVarUint8Array(decoder);
      // Counted before the authorship check. A step 2 carries every session a client had offline, each with its
      // own clientID, so it has a per-frame bound instead of the per-connection rate; both count for the document.
      const { limits } = this.options;
      const cap =
        syncType === syncProtocol.messageYjsUpdate ? limits.newClientIdsPerMinute : limits.maxNewClientIdsPerSync;
      const fresh = countNewClientIds(this.room.doc, update, cap);
      if (syncType === syncProtocol.messageYjsUpdate) {
        this.budget.chargeNewClientIds(fresh);
        chargeDocument(this.room.doc, fresh, this.options.limits);
      } else {
        chargeSyncClientIds(this.room.doc, fresh, this.options.limits);
      }
      const verdict = this.room.applyClientUpdate(update, this);
      if (!verdict.ok) throw verdictRefusal[verdict.code](verdict.reason);
      return;
    }
    throw new Refusal(CloseCode.BadFrame, "sync-type", `unknown sync message ${syncType}`);
  }

  /** Starts answering a sync step 1, unless the relay already holds too many large replies. */
  private beginReply(stateVector: Uint8Array): void {
    if (this.options.replies.full)
      throw new Refusal(CloseCode.RateLimited, "replies-busy", "relay busy: too many sync replies queued");
    void this.answerSyncStep1(stateVector);
  }

  /** The large reply in flight is written (or never will be): answer the request that waited for it. */
  private replyDone(): void {
    this.replying = false;
    const next = this.deferredStep1;
    this.deferredStep1 = null;
    if (next === null || this.closing) return;
    try {
      this.beginReply(next);
    } catch (error) {
      if (error instanceof Refusal) this.close(error.code, error.reason, error.detail);
    }
  }

  /** Sends sync step 2 once all of it is durable (see `Room.durableReplySince`), then the first ack. */
  private async answerSyncStep1(stateVector: Uint8Array): Promise<void> {
    let frames: Uint8Array[];
    this.answering++;
    try {
      frames = await this.room.durableReplySince(stateVector);
    } catch (error) {
      // A storage failure already closed every connection of the room; anything else closes this one.
      this.options.logger.warn("sync reply not sent", { room: this.room.name, error });
      if (this.room.isOpen) this.close(CloseCode.InternalError, "sync-failed");
      return;
    } finally {
      this.answering--;
    }
    if (this.closing) return;
    // The whole document's reply is a shared, cached frame (full-state-cache.ts); the large frame comes first,
    // and what may follow it (a step 2 with what changed since it was encoded) is small.
    const [reply, ...rest] = frames as [Uint8Array, ...Uint8Array[]];
    if (reply.length > this.options.limits.maxFrameBytes) {
      if (this.replying) {
        // Prepared alongside another large reply: it waits (its state vector, not its bytes), or is refused.
        if (this.deferredStep1 !== null)
          this.close(CloseCode.RateLimited, "sync-overlap", "sync request while one is answered");
        else this.deferredStep1 = stateVector;
        return;
      }
      const release = this.options.replies.reserve(reply.length);
      if (release === null) {
        this.close(CloseCode.RateLimited, "replies-busy", "relay busy: too many sync replies queued");
        return;
      }
      this.replying = true;
      this.send(reply, () => {
        release();
        this.replyDone();
      });
    } else {
      this.send(reply);
    }
    for (const frame of rest) this.send(frame);
    if (!this.synced) {
      this.synced = true;
      if (this.wantsAcks) this.send(encodeStored(this.room.storedStateVector()));
      // The client record is written after the reply, so the join never waits for it (Room.join).
      this.room.recordJoin(this);
    }
  }
}
