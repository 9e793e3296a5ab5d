/**
 * Revocation at upgrade, from the storage's {@link RevocationStore} (when it offers one): a connection of a
 * revoked anonymous secret, or a login merge of it into another user than the one it was merged into, is
 * refused with 4403 before its room is loaded. In a cluster that matters twice: loading takes the room's lease
 * (a logged-out visitor's reconnects would pull their room from node to node), and the node that receives the
 * upgrade answers it itself instead of piping it to the room's owner ({@link isRevokedUpgrade}, for the
 * `onUpgrade` hook of `@parley/relay-cluster`).
 *
 * The in-document revocation (revocation.ts) is still checked after the load: it is the record of a storage
 * without the capability, and of revocations written before the store existed.
 */
import type { IncomingMessage } from "node:http";
import {
  anonymousIdFromSecret,
  CloseCode,
  ConnectParam,
  credentialsFromSubprotocols,
  parseAnonymousToken,
  parseRoomName,
  type RoomRef,
  roomName,
} from "@parley/protocol";
import { Refusal } from "../core/refusal.js";
import type { RevocationStore } from "../storage/revocation-store.js";
import { WS_PATH_PREFIX } from "./admission.js";

/** What an upgrade opens, as far as revocation is concerned. */
export interface RevocableTarget {
  ref: RoomRef;
  room: string;
  /** The anonymous room a login merge folds into `room`. */
  mergeFrom?: string;
}

/**
 * The 4403 refusal for `target` if the store revoked it: an anonymous room that was claimed at all
 * (`revoked`, or `merged` after a merge), or a merge from an anonymous room claimed otherwise than by a merge
 * into this user. `null` if it may go on.
 */
export async function revocationRefusal(store: RevocationStore, target: RevocableTarget): Promise<Refusal | null> {
  if (target.ref.kind === "anonymous") {
    const record = await store.lookup(target.room);
    if (record === undefined) return null;
    return record.mergedInto === undefined
      ? new Refusal(CloseCode.Forbidden, "revoked", "anonymous user was logged out")
      : new Refusal(CloseCode.Forbidden, "merged", "anonymous user merged into a user");
  }
  if (target.mergeFrom === undefined) return null;
  const record = await store.lookup(target.mergeFrom);
  if (record === undefined || record.mergedInto === target.ref.subject) return null;
  return record.mergedInto === undefined
    ? new Refusal(CloseCode.Forbidden, "revoked", "anonymous user was logged out")
    : new Refusal(CloseCode.Forbidden, "merged", "anonymous user already merged into another user");
}

/**
 * What an upgrade request names, read as admission reads it but verifying nothing (no token, no secret
 * check): `null` if it names no room, or no anonymous room either way.
 */
function unverifiedTarget(request: IncomingMessage): RevocableTarget | null {
  const url = request.url ?? "";
  const queryStart = url.indexOf("?");
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  if (!path.startsWith(WS_PATH_PREFIX)) return null;
  const room = path.slice(WS_PATH_PREFIX.length);
  const ref = parseRoomName(room);
  if (ref === null) return null;
  if (ref.kind === "anonymous") return { ref, room };
  const params = new URLSearchParams(queryStart === -1 ? "" : url.slice(queryStart + 1));
  const header = request.headers["sec-websocket-protocol"];
  const offered = header === undefined ? [] : header.split(",").map((entry) => entry.trim());
  const merge = params.get(ConnectParam.merge) ?? credentialsFromSubprotocols(offered)?.merge;
  const secret = merge === undefined ? null : parseAnonymousToken(merge);
  if (secret === null) return null;
  const mergeFrom = roomName({ appId: ref.appId, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
  return { ref, room, mergeFrom };
}

/**
 * Whether the store refuses the upgrade `request` (unverified: admission still runs), so that the node that
 * received it should answer it (admission, then the refusal of {@link revocationRefusal}) instead of routing it
 * to the node serving its room. Only anonymous rooms and login merges cost a look-up.
 */
export async function isRevokedUpgrade(store: RevocationStore, request: IncomingMessage): Promise<boolean> {
  const target = unverifiedTarget(request);
  return target !== null && (await revocationRefusal(store, target)) !== null;
}
