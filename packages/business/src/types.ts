/**
 * The JSON the business API answers with, as typed results: `@parley/protocol`'s business-api.ts, the one
 * definition the relay answers with too.
 */
export type {
  ClientRecord,
  ConversationPage,
  ConversationSummary,
  ImportedMessage,
  ImportResult,
  JsonValue,
  Message,
  MessageAuthor,
  MessagePage,
  PostMessageInput,
  Profile,
  ProfileInput,
  ReadPositions,
  SubjectDetails,
  SubjectRef,
  UnreadCounts,
  WebhookEvent,
  WebhookEventType,
} from "@parley/protocol";
