/**
 * What the application reads of the open conversation: messages with their delivery status and read
 * receipts (with the relay's preview until the first sync), read positions, profile and clients.
 */
import { type ClientRecord, clientsOf, type Profile, readPositions, readProfile } from "@parley/protocol";
import type { ReadPositions } from "../api.js";
import { type ConversationMessage, countUnread, readMessages } from "./conversation.js";
import { withPreview } from "./preview.js";
import type { Session } from "./session.js";

/** How far the user and the business have read, counting the preview's positions until the first sync. */
export function readPositionsOf(session: Session | undefined): ReadPositions {
  if (session === undefined) return { user: 0, business: 0 };
  const positions = readPositions(session.doc);
  const preview = session.preview;
  if (preview === undefined) return positions;
  return {
    user: Math.max(positions.user, preview.reads.user),
    business: Math.max(positions.business, preview.reads.business),
  };
}

/** The conversation in display order, as seen by `clientId`. */
export function messagesOf(session: Session | undefined, clientId: string): ConversationMessage[] {
  if (session === undefined) return [];
  const business = readPositionsOf(session).business;
  const local = readMessages(session.index, session.stored, clientId, business);
  const preview = session.preview;
  return preview === undefined ? local : withPreview(local, preview, clientId, business);
}

/** Business messages newer than the user's read position. */
export function unreadCountOf(session: Session | undefined, clientId: string): number {
  return session === undefined ? 0 : countUnread(messagesOf(session, clientId), readPositionsOf(session).user);
}

export function profileOf(session: Session | undefined): Profile {
  return session === undefined ? { properties: {} } : readProfile(session.doc);
}

export function clientRecordsOf(session: Session | undefined): ClientRecord[] {
  return session === undefined ? [] : [...clientsOf(session.doc).values()];
}
