/**
 * The probe connection of a user switch: before anything of the current user is touched, connect to the
 * new user's room with the new token on a scratch document and see whether the relay accepts it.
 */
import { RelayUnavailableError } from "@parley/protocol";
import * as Y from "yjs";
import type { RelayOutcome } from "../identity/relay-answer.js";
import { errorForClose } from "./close-errors.js";
import { Connection, type WebSocketConstructor } from "./connection.js";

export interface ProbeOptions {
  relayUrl: string;
  room: string;
  WebSocket: WebSocketConstructor;
  /** The connection parameters: the new token, this store's client secret, `acks`, `info`. */
  params: Record<string, string>;
  timeoutMs: number;
}

/**
 * Connects to `room` on a scratch document; returns the room's state once synced, or throws the typed
 * refusal ({@link RelayUnavailableError} when the relay does not answer within `timeoutMs`).
 */
export async function probeRoom(options: ProbeOptions): Promise<Uint8Array> {
  const doc = new Y.Doc();
  try {
    const outcome = await new Promise<RelayOutcome>((resolve) => {
      // The probe must stop in every outcome, or it would keep reconnecting as the other user.
      const finish = (value: RelayOutcome) => {
        clearTimeout(timer);
        connection.stop();
        resolve(value);
      };
      const timer = setTimeout(() => finish({ kind: "timeout" }), options.timeoutMs);
      const connection = new Connection({
        relayUrl: options.relayUrl,
        room: options.room,
        doc,
        WebSocket: options.WebSocket,
        params: () => options.params,
        onStatus: () => {},
        onStored: () => {},
        onSynced: () => finish({ kind: "synced" }),
        onRefused: (code, reason) => finish({ kind: "refused", error: errorForClose(code, reason) }),
      });
      connection.start();
      (timer as { unref?: () => void }).unref?.();
    });
    if (outcome.kind === "refused") throw outcome.error;
    if (outcome.kind === "timeout") {
      throw new RelayUnavailableError(`the relay did not answer within ${options.timeoutMs} ms`);
    }
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
