/**
 * Helpers for the client integration tests (test/client-*.test.ts): the relay/clients fixture every
 * behaviour file starts from, reading what the relay stored for a room over a raw WebSocket (so no client
 * code is involved), and the secrets a client keeps in its store.
 */

import { type ClientOptions, type ClientStorage, createClient, memoryStorage, type ParleyClient } from "@parley/client";
import {
  anonymousToken,
  clientIdFromSecret,
  clientsOf,
  createSecret,
  encodeClientInfo,
  MessageType,
  readStored,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { afterEach } from "vitest";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { type RelayHandle, startRelay, TEST_APP } from "./relay.js";

/** The relay and the clients of one test; everything it started is stopped after each test. */
export interface ClientFixture {
  /** Starts this test's relay (a real process on a free port). */
  startRelay(options?: Parameters<typeof startRelay>[0]): Promise<RelayHandle>;
  /** This test's relay; throws if none was started. */
  readonly relay: RelayHandle;
  /**
   * Creates a client of the test app on this test's relay (memory storage, `ws`, the fixture's defaults,
   * then `options`), destroyed after the test.
   */
  client(options?: Partial<ClientOptions>): ParleyClient;
  /** Registers a client created elsewhere so that it is destroyed after the test. */
  track(client: ParleyClient): ParleyClient;
}

/**
 * Installs an `afterEach` that destroys the test's clients and stops its relay, and returns the handle
 * to start them with. Call it once inside a `describe` (or at the top of a file).
 */
export function useClientFixture(defaults: Partial<ClientOptions> = {}): ClientFixture {
  let relay: RelayHandle | undefined;
  const clients: ParleyClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.destroy().catch(() => {});
    await relay?.stop();
    relay = undefined;
  });
  return {
    async startRelay(options) {
      relay = await startRelay(options);
      return relay;
    },
    get relay() {
      if (relay === undefined) throw new Error("no relay: call startRelay() first");
      return relay;
    },
    client(options = {}) {
      const relayUrl = options.relayUrl ?? this.relay.url;
      const client = createClient({
        appId: TEST_APP.id,
        storage: memoryStorage(),
        WebSocket,
        ...defaults,
        ...options,
        relayUrl,
      });
      clients.push(client);
      return client;
    },
    track(client) {
      clients.push(client);
      return client;
    },
  };
}

export interface RawSession {
  /** The close code, or `undefined` if the relay synced. */
  closeCode: number | undefined;
  /** Whether the relay sent its sync step 2 (it let us read the room). */
  received: boolean;
  doc: Y.Doc;
  /** The probe's own client id: the relay records it as a client of the room too, once it has synced. */
  clientId: string;
}

/**
 * Opens `room` with `token` and a fresh client secret, runs the sync, and returns what the relay holds.
 * Resolves when the relay's step 2 arrived or the connection closed.
 */
export function connectRaw(
  relay: RelayHandle,
  room: string,
  token: string,
  extraParams: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<RawSession> {
  const doc = new Y.Doc();
  const clientSecret = createSecret();
  const params = new URLSearchParams({
    token,
    client: clientSecret,
    info: encodeClientInfo({ platform: "test-probe" }),
    ...extraParams,
  });
  const socket = new WebSocket(`${relay.url}/${room}?${params}`);
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`raw session on ${room} timed out`));
    }, timeoutMs);
    const finish = (result: RawSession) => {
      clearTimeout(timer);
      resolve(result);
    };
    socket.on("error", () => {});
    socket.on("open", () => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.sync);
      syncProtocol.writeSyncStep1(encoder, doc);
      socket.send(encoding.toUint8Array(encoder));
    });
    let synced = false;
    socket.on("message", (data: ArrayBuffer) => {
      // What arrives while the close completes (the probe's own client record, stamped after the reply) is not
      // part of the answer: a caller may already have taken the probe's record out of `doc`.
      if (synced) return;
      const decoder = decoding.createDecoder(new Uint8Array(data));
      const type = decoding.readVarUint(decoder);
      if (type !== MessageType.sync) {
        if (type === MessageType.stored) readStored(decoder);
        return;
      }
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.sync);
      const syncType = syncProtocol.readSyncMessage(decoder, encoder, doc, null);
      if (syncType === syncProtocol.messageYjsSyncStep2) {
        synced = true;
        socket.close(1000);
        finish({ closeCode: undefined, received: true, doc, clientId: clientIdFromSecret(clientSecret) });
      }
    });
    socket.on("close", (code: number) =>
      finish({ closeCode: code, received: false, doc, clientId: clientIdFromSecret(clientSecret) }),
    );
  });
}

/**
 * Reads the relay's copy of `room` with `token`; throws if the relay refuses. The probe's own client record,
 * which the relay may stamp before the reply is encoded, is left out of the returned document.
 */
export async function readRelayDoc(relay: RelayHandle, room: string, token: string): Promise<Y.Doc> {
  const session = await connectRaw(relay, room, token);
  if (!session.received) throw new Error(`relay refused ${room}: ${session.closeCode}`);
  session.doc.transact(() => clientsOf(session.doc).delete(session.clientId));
  return session.doc;
}

/** The anonymous token of the identity a client of `appId` keeps in `storage` (to probe the relay as that user). */
export async function storedAnonymousToken(storage: ClientStorage, appId = TEST_APP.id): Promise<string> {
  const record = (await storage.get(`identity/${appId}`)) as
    | { current?: { kind?: string; secret?: string } }
    | undefined;
  if (record?.current?.kind !== "anonymous" || typeof record.current.secret !== "string") {
    throw new Error("the store holds no anonymous identity");
  }
  return anonymousToken(record.current.secret);
}
