/**
 * Logout (the client's `logout` frame): the client's record becomes inactive; an anonymous subject is also revoked.
 * The other clients of a revoked subject are closed first and this one leaves before the revocation is written, so no
 * client ever holds the relay's revocation structs (merged into a user document later, they would be refused as
 * relay-only data). With a revocation store the subject is claimed there first: the store is what every node checks
 * at upgrade, and a merge that claimed it before stays the record.
 */
import { CloseCode } from "@parley/protocol";
import type { WebSocket } from "ws";
import { recordDisconnect } from "../core/client-records.js";
import type { Logger } from "../core/logger.js";
import { closeSocket } from "../core/refusal.js";
import type { Room } from "../core/room.js";
import type { RoomPeer } from "../core/room-peer.js";
import type { RevocationStore } from "../storage/revocation-store.js";
import { revoke } from "./revocation.js";

/** What a logout needs of its connection. */
export interface LoggingOut {
  peer: RoomPeer;
  room: Room;
  ws: WebSocket;
  revocations?: RevocationStore | undefined;
  logger: Logger;
}

/** Stores the logout, then closes the socket 1000 `logged-out` (or 1011 `logout-failed` if it was not stored). */
export async function logOut({ peer, room, ws, revocations, logger }: LoggingOut): Promise<void> {
  const anonymous = room.ref.kind === "anonymous";
  if (anonymous) room.closePeers(CloseCode.Forbidden, "revoked", "anonymous user logged out", peer);
  // A client that logs out before its first sync (a delivered logout notice) still gets its record.
  room.recordJoin(peer);
  room.leave(peer, true);
  try {
    if (anonymous) await revocations?.claim(room.name);
    await room.transactAsRelay((doc) => {
      recordDisconnect(doc, peer.clientId, Date.now(), true);
      if (anonymous) revoke(doc);
    });
  } catch (error) {
    logger.error("logout not stored", { room: room.name, error });
    closeSocket(ws, CloseCode.InternalError, "logout-failed", "logout not stored");
    return;
  }
  closeSocket(ws, CloseCode.Normal, "logged-out");
}
