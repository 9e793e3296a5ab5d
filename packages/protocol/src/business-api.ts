/**
 * The business HTTP API's request and response shapes (JSON), shared by the relay that answers and the
 * `@parley/business` SDK that calls. The routes are in the relay README (Business API).
 */
import type { ClientRecord, JsonValue, Profile } from "./layout.js";
import type { WebhookEventType } from "./webhooks.js";

/** Who a conversation belongs to: a logged-in user (`id` = userId) or an anonymous user (`id` = anonymous id). */
export interface SubjectRef {
  kind: "user" | "anonymous";
  id: string;
}

/** Who wrote a business message. */
export interface MessageAuthor {
  id?: string;
  name?: string;
  avatarUrl?: string;
}

/** A message of a conversation. */
export interface Message {
  id: string;
  role: "user" | "business";
  text: string;
  /** Milliseconds since the epoch (hybrid logical clock); display order is `(ts, id)`. */
  ts: number;
  /** The client a user message was sent from (`"imported"` for imported history). */
  clientId?: string;
  /** Who wrote a business message. */
  author?: MessageAuthor;
  metadata?: { [key: string]: JsonValue };
}

/** Read positions: the `ts` of the newest message read, 0 for none. The user's is the furthest of its clients. */
export interface ReadPositions {
  user: number;
  business: number;
}

/** Unread counts: `business` = user messages the business has not read; `user` = business messages the user has not. */
export interface UnreadCounts {
  user: number;
  business: number;
}

/** A conversation in the list. */
export interface ConversationSummary extends SubjectRef {
  /** `merged`: an anonymous user who logged in (continued under `mergedInto`); `loggedOut`: an anonymous user who logged out. */
  state: "active" | "loggedOut" | "merged";
  mergedInto?: string;
  /** Newest message, profile change or client activity, ms since the epoch. */
  lastActivity: number;
  messageCount: number;
  lastMessage: Message | null;
  reads: ReadPositions;
  unread: UnreadCounts;
}

/** A user or anonymous user with profile and clients. */
export interface SubjectDetails extends ConversationSummary {
  profile: Profile;
  /** Every client (device, browser, app install) the user used, as the relay recorded it. */
  clients: ClientRecord[];
  /** Anonymous ids merged into this user at login. */
  merged: string[];
  /** Whether a connected client of the user currently shows the user typing. */
  userTyping: boolean;
}

/** One page of {@link BusinessClient.listConversations}. */
export interface ConversationPage {
  users: ConversationSummary[];
  /** Pass as `cursor` for the next (older) page; `null` on the last page. */
  nextCursor: string | null;
}

/** One page of {@link BusinessClient.listMessages}: oldest first within the page. */
export interface MessagePage {
  messages: Message[];
  /** Pass as `before` for the page of older messages; `null` at the start of the conversation. */
  nextBefore: string | null;
}

/** A profile to write: known fields take a string (or `null` to clear); `properties` takes JSON per name. */
export interface ProfileInput {
  givenName?: string | null;
  surname?: string | null;
  email?: string | null;
  avatarUrl?: string | null;
  properties?: { [name: string]: JsonValue };
}

/** A business message to post. */
export interface PostMessageInput {
  text: string;
  metadata?: { [key: string]: JsonValue };
  author?: MessageAuthor;
  /**
   * An id of 8–64 characters of `A-Z a-z 0-9 _ -`. Posting the same id again returns the stored message
   * instead of writing a second one, so a retried call never duplicates. Default: a random id.
   */
  id?: string;
}

/** One message of an imported history. */
export interface ImportedMessage {
  /** 8–64 characters of `A-Z a-z 0-9 _ -`; importing an id that is already there changes nothing. */
  id: string;
  role: "user" | "business";
  text: string;
  /** The original time, ms since the epoch. */
  ts: number;
  /** For business messages only. */
  author?: MessageAuthor;
  metadata?: { [key: string]: JsonValue };
}

/** What an import did. */
export interface ImportResult {
  imported: number;
  /** Messages whose ids the conversation already had. */
  skipped: number;
}

interface EventBase<T extends WebhookEventType, D> {
  /** Unique per event and the same on every retry: deduplicate on it (delivery is at least once). */
  id: string;
  type: T;
  appId: string;
  /** When the relay saw the change, ms since the epoch. */
  createdAt: number;
  data: D;
}

/** The body of a webhook delivery. */
export type WebhookEvent =
  | EventBase<"message.created", { subject: SubjectRef; message: Message }>
  | EventBase<"user.merged", { anonymousId: string; userId: string }>
  | EventBase<"client.added", { subject: SubjectRef; client: ClientRecord }>
  | EventBase<"client.loggedOut", { subject: SubjectRef; client: ClientRecord }>
  | EventBase<
      "conversation.imported",
      { subject: SubjectRef; imported: number; skipped: number; messageIds: string[] }
    >;
