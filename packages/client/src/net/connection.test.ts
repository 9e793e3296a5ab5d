import { credentialSubprotocols, encodeStored, MessageType } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { describe, expect, it, vi } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { Connection, type WebSocketLike } from "./connection.js";

/** A scripted socket: records what the client sends; the test plays the relay. */
class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = [];
  binaryType = "blob";
  readyState = 0;
  sent: Uint8Array[] = [];
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string[],
  ) {
    FakeSocket.instances.push(this);
  }
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    (this.onopen as (() => void) | null)?.();
  }
  deliver(data: Uint8Array): void {
    const buffer = new Uint8Array(data).buffer;
    (this.onmessage as ((event: { data: ArrayBuffer }) => void) | null)?.({ data: buffer });
  }
  closeFromRelay(code: number, reason = ""): void {
    this.readyState = 3;
    (this.onclose as ((event: { code: number; reason: string }) => void) | null)?.({ code, reason });
  }
  /** The sync message types the client sent, e.g. ["step1", "step2", "update"]. */
  sentSyncTypes(): string[] {
    return this.sent.map((frame) => {
      const decoder = decoding.createDecoder(frame);
      const type = decoding.readVarUint(decoder);
      if (type !== MessageType.sync) return `type${type}`;
      return ["step1", "step2", "update"][decoding.readVarUint(decoder)] ?? "?";
    });
  }
}

function relayStep1(relayDoc: Y.Doc): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.sync);
  syncProtocol.writeSyncStep1(encoder, relayDoc);
  return encoding.toUint8Array(encoder);
}

function relayStep2(relayDoc: Y.Doc): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.sync);
  syncProtocol.writeSyncStep2(encoder, relayDoc);
  return encoding.toUint8Array(encoder);
}

function setup() {
  FakeSocket.instances = [];
  const doc = new Y.Doc();
  const events = { synced: 0, refused: [] as number[], stored: [] as Map<number, number>[], statuses: [] as string[] };
  const connection = new Connection({
    relayUrl: "ws://relay/v1",
    room: "app/a/room",
    doc,
    WebSocket: FakeSocket,
    params: () => ({ token: "anon.x", client: "secret" }),
    onStatus: (status) => events.statuses.push(status),
    onSynced: () => {
      events.synced += 1;
    },
    onStored: (state) => events.stored.push(state),
    onRefused: (code) => events.refused.push(code),
  });
  return { doc, connection, events };
}

describe("Connection", () => {
  it("sends no incremental update before its own step 2, then syncs and reports stored state", () => {
    const { doc, connection, events } = setup();
    doc.getArray("messages").push(["offline"]);
    connection.start();
    const socket = FakeSocket.instances[0];
    if (socket === undefined) throw new Error("no socket");
    // Credentials travel as subprotocols, never in the URL.
    expect(socket.url).toBe("ws://relay/v1/app/a/room?");
    expect(socket.protocols).toEqual(credentialSubprotocols({ token: "anon.x", client: "secret" }));
    socket.open();
    doc.getArray("messages").push(["while handshaking"]);
    expect(socket.sentSyncTypes()).toEqual(["step1"]);

    const relayDoc = new Y.Doc();
    socket.deliver(relayStep1(relayDoc));
    expect(socket.sentSyncTypes()).toEqual(["step1", "step2"]);
    // Step 2 carries both local changes, including the one made before it was sent.
    const step2 = socket.sent[1];
    if (step2 === undefined) throw new Error("no step 2");
    const decoder = decoding.createDecoder(step2);
    decoding.readVarUint(decoder);
    decoding.readVarUint(decoder);
    Y.applyUpdate(relayDoc, decoding.readVarUint8Array(decoder));
    expect(relayDoc.getArray("messages").toArray()).toEqual(["offline", "while handshaking"]);

    socket.deliver(relayStep2(relayDoc));
    expect(events.synced).toBe(1);
    expect(connection.status).toBe("online");
    doc.getArray("messages").push(["live"]);
    expect(socket.sentSyncTypes()).toEqual(["step1", "step2", "update"]);

    socket.deliver(encodeStored(Y.encodeStateVector(doc)));
    expect(events.stored.at(-1)?.get(doc.clientID)).toBe(3);
    connection.stop();
  });

  it("drops the socket instead of throwing on an unreadable frame", () => {
    const { connection } = setup();
    connection.start();
    const socket = FakeSocket.instances[0];
    if (socket === undefined) throw new Error("no socket");
    socket.open();
    expect(() => socket.deliver(new Uint8Array([100]))).not.toThrow();
    expect(socket.readyState).toBe(3);
    connection.stop();
  });

  it("reconnects after a transient close and stops for good after a permanent one", () => {
    vi.useFakeTimers();
    try {
      const { connection, events } = setup();
      connection.start();
      FakeSocket.instances[0]?.closeFromRelay(1006);
      expect(connection.status).toBe("offline");
      vi.advanceTimersByTime(10_000);
      expect(FakeSocket.instances).toHaveLength(2);
      FakeSocket.instances[1]?.closeFromRelay(4531);
      vi.advanceTimersByTime(10_000);
      expect(FakeSocket.instances).toHaveLength(3);
      FakeSocket.instances[2]?.closeFromRelay(4401, "signature");
      vi.advanceTimersByTime(60_000);
      expect(FakeSocket.instances).toHaveLength(3);
      expect(events.refused).toEqual([4401]);
      connection.start();
      expect(FakeSocket.instances).toHaveLength(4);
      connection.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
