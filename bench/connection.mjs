// One benchmark client connection: a `ws` socket speaking y-protocols sync to a server, in one of two framings.
//
// - "y-websocket": the y-websocket protocol (stock server and Parley): `varUint type, ...`.
// - "hocuspocus": Hocuspocus's protocol: every frame starts with `varString documentName`; the client
//   authenticates first (`Auth, Token, varString token`), then syncs; the server acks updates with SyncStatus.
//
// Each connection either holds a Y.Doc (sync, send and receive for real) or is idle (`doc: null`): it completes
// the handshake with an empty document and ignores later traffic, so thousands of idle connections cost the load
// generator little. Local updates are sent only after the first sync (the update is inside our step 2 before that).
import { MessageType, readAttested, readRecent } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import * as Y from "yjs";

const MESSAGE_SYNC = 0;
const MESSAGE_AUTH = 2;
const HOCUSPOCUS_SYNC_REPLY = 4;
const SYNC_STEP_1 = 0;
const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;
const EMPTY_DOC_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

/**
 * @typedef {"y-websocket" | "hocuspocus"} Framing
 * @typedef {{ url: string, framing: Framing, documentName: string, token: string }} Endpoint
 */

export class SyncConnection {
  /**
   * Connects and resolves once the first sync is done both ways (or rejects if the socket closes first).
   * @param {Endpoint} endpoint
   * @param {Y.Doc | null} doc `null` for an idle connection.
   * @param {{ timeoutMs?: number }} [options]
   * @returns {Promise<SyncConnection>}
   */
  static open(endpoint, doc, { timeoutMs = 60_000 } = {}) {
    const connection = new SyncConnection(endpoint, doc);
    return connection.synced(timeoutMs).then(() => connection);
  }

  /**
   * @param {Endpoint} endpoint
   * @param {Y.Doc | null} doc
   */
  constructor(endpoint, doc) {
    this.endpoint = endpoint;
    this.doc = doc;
    /** @type {{ code: number, reason: string } | null} */
    this.closed = null;
    this.receivedStep2 = false;
    this.sentStep2 = false;
    this.announcedSync = false;
    /** @type {Uint8Array[]} */
    this.queued = [];
    /** @type {Array<(error?: Error) => void>} */
    this.syncWaiters = [];
    /** @type {Array<(update: Uint8Array) => void>} */
    this.appliedListeners = [];
    /** @type {Array<(preview: import("@parley/protocol").RecentPreview) => void>} */
    this.recentListeners = [];
    this.socket = new WebSocket(endpoint.url);
    this.socket.binaryType = "nodebuffer";
    this.socket.on("open", () => this.onOpen());
    this.socket.on("message", (data) => this.onFrame(/** @type {Buffer} */ (data)));
    this.socket.on("error", () => {});
    this.socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.settle(new Error(`closed ${code} ${reason.toString()} before the first sync (${endpoint.url})`));
    });
    if (doc !== null) {
      this.updateHandler = (/** @type {Uint8Array} */ update, /** @type {unknown} */ origin) => {
        if (origin === this) return;
        if (this.isSynced()) this.sendUpdate(update);
        else this.queued.push(update);
      };
      doc.on("update", this.updateHandler);
    }
  }

  isSynced() {
    return this.receivedStep2 && this.sentStep2;
  }

  /** @param {number} timeoutMs */
  synced(timeoutMs) {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no first sync within ${timeoutMs} ms`)), timeoutMs);
      this.syncWaiters.push((error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(undefined);
      });
    });
  }

  /** @param {Error} [error] */
  settle(error) {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const waiter of waiters) waiter(error);
  }

  /** Starts a frame: the document name first under Hocuspocus's framing. */
  encoder() {
    const encoder = encoding.createEncoder();
    if (this.endpoint.framing === "hocuspocus") encoding.writeVarString(encoder, this.endpoint.documentName);
    return encoder;
  }

  /** @param {encoding.Encoder} encoder */
  send(encoder) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encoding.toUint8Array(encoder));
  }

  onOpen() {
    if (this.endpoint.framing === "hocuspocus") {
      const auth = this.encoder();
      encoding.writeVarUint(auth, MESSAGE_AUTH);
      encoding.writeVarUint(auth, 0);
      encoding.writeVarString(auth, this.endpoint.token);
      this.send(auth);
    }
    const step1 = this.encoder();
    encoding.writeVarUint(step1, MESSAGE_SYNC);
    encoding.writeVarUint(step1, SYNC_STEP_1);
    encoding.writeVarUint8Array(step1, this.doc === null ? new Uint8Array([0]) : Y.encodeStateVector(this.doc));
    this.send(step1);
  }

  /** @param {Buffer} data */
  onFrame(data) {
    const decoder = decoding.createDecoder(data);
    if (this.endpoint.framing === "hocuspocus") decoding.readVarString(decoder);
    const type = decoding.readVarUint(decoder);
    if (type === MessageType.recent && this.endpoint.framing === "y-websocket") {
      const preview = readRecent(decoder);
      for (const listener of this.recentListeners) listener(preview);
      return;
    }
    if (type === MessageType.attested && this.endpoint.framing === "y-websocket") {
      // Parley forwards others' changes at once with its attestation (attest=1). @parley/client keeps the tag
      // until the change is stored; the bench measures the relay, so it only applies the update.
      this.applyRemote(readAttested(decoder).update);
      return;
    }
    if (type !== MESSAGE_SYNC && type !== HOCUSPOCUS_SYNC_REPLY) return;
    const syncType = decoding.readVarUint(decoder);
    if (syncType === SYNC_STEP_1) {
      const stateVector = decoding.readVarUint8Array(decoder);
      const reply = this.encoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      encoding.writeVarUint(reply, SYNC_STEP_2);
      encoding.writeVarUint8Array(
        reply,
        this.doc === null ? EMPTY_DOC_UPDATE : Y.encodeStateAsUpdate(this.doc, stateVector),
      );
      this.send(reply);
      this.sentStep2 = true;
    } else if (syncType === SYNC_STEP_2 || syncType === SYNC_UPDATE) {
      const update = decoding.readVarUint8Array(decoder);
      if (syncType === SYNC_STEP_2) this.receivedStep2 = true;
      this.applyRemote(update);
    }
    if (this.isSynced() && !this.announcedSync) {
      this.announcedSync = true;
      for (const update of this.queued) this.sendUpdate(update);
      this.queued = [];
      this.settle();
    }
  }

  /** @param {Uint8Array} update */
  applyRemote(update) {
    if (this.doc === null) return;
    Y.applyUpdate(this.doc, update, this);
    for (const listener of this.appliedListeners) listener(update);
  }

  /**
   * Calls `listener` with every update from the server, after it is applied to the document.
   * @param {(update: Uint8Array) => void} listener
   */
  onApplied(listener) {
    this.appliedListeners.push(listener);
  }

  /**
   * Calls `listener` with Parley's `recent` preview (sent before the sync when the endpoint asked with `tail`).
   * @param {(preview: import("@parley/protocol").RecentPreview) => void} listener
   */
  onRecent(listener) {
    this.recentListeners.push(listener);
  }

  /** @param {Uint8Array} update */
  sendUpdate(update) {
    const encoder = this.encoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    encoding.writeVarUint(encoder, SYNC_UPDATE);
    encoding.writeVarUint8Array(encoder, update);
    this.send(encoder);
  }

  /** Bytes queued in the socket, not yet handed to the kernel. */
  get bufferedAmount() {
    return this.socket.bufferedAmount;
  }

  /** Closes the socket and resolves when it is closed. */
  close() {
    if (this.doc !== null && this.updateHandler) this.doc.off("update", this.updateHandler);
    if (this.closed !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve(undefined));
      this.socket.close();
      setTimeout(() => {
        this.socket.terminate();
        resolve(undefined);
      }, 3_000).unref();
    });
  }
}
