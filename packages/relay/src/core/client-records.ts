/**
 * The relay-attested client records (`clients` root): written only by the relay, from what it saw on the
 * connection, so that no client can claim another's platform, versions or activity.
 */
import { type ClientInfo, type ClientRecord, clientsOf } from "@parley/protocol";
import type * as Y from "yjs";

/** What the relay knows about a connecting client. */
export interface ClientStamp {
  clientId: string;
  info: ClientInfo;
  userAgent?: string;
}

/** Records a connection; keeps `firstSeen`. Call inside a relay transaction. */
export function recordConnect(doc: Y.Doc, stamp: ClientStamp, now: number): void {
  const previous = clientsOf(doc).get(stamp.clientId);
  const record: ClientRecord = {
    id: stamp.clientId,
    platform: stamp.info.platform ?? "unknown",
    firstSeen: previous?.firstSeen ?? now,
    lastSeen: now,
    active: true,
  };
  if (stamp.info.appVersion !== undefined) record.appVersion = stamp.info.appVersion;
  if (stamp.info.sdkVersion !== undefined) record.sdkVersion = stamp.info.sdkVersion;
  if (stamp.userAgent !== undefined) record.userAgent = stamp.userAgent.slice(0, 512);
  clientsOf(doc).set(stamp.clientId, record);
}

/** Records the end of a connection (and, on logout, that the client left). Call inside a relay transaction. */
export function recordDisconnect(doc: Y.Doc, clientId: string, now: number, loggedOut: boolean): void {
  const previous = clientsOf(doc).get(clientId);
  if (!previous) return;
  clientsOf(doc).set(clientId, { ...previous, lastSeen: now, active: previous.active && !loggedOut });
}
