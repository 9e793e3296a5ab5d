/**
 * @parley/business: a small typed Node SDK for the relay's business API — list and read conversations,
 * answer them as the business, import history, mark read, show typing — and verification of webhooks.
 */

// The API's JSON shapes: defined once in @parley/protocol, which the relay answers with too.
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
export { type BusinessClient, type BusinessClientOptions, createBusinessClient } from "./client.js";
export { BusinessApiError, ErrorCode, NotFoundError, ParleyError, RelayUnavailableError } from "./errors.js";
export { type VerifyWebhookOptions, verifyWebhookSignature } from "./webhook-signature.js";
