/**
 * @parley/relay/testing — the conformance suite every {@link RelayStorage} adapter must pass. It has no
 * dependency on a test framework: pass it your `describe`/`it`, or run single cases yourself. Kept out of
 * the main entry so that a relay never loads it.
 */
export {
  type CompactionCrasher,
  describeRelayStorage,
  type NewRelayStorageMedium,
  type RelayStorageCase,
  type RelayStorageMedium,
  relayStorageCases,
  runRelayStorageCase,
  type TestFunctions,
} from "./storage/conformance.js";
export {
  type ConversationIndexCase,
  conversationIndexCases,
  describeConversationIndex,
} from "./storage/conversation-index-conformance.js";
export {
  describeRevocationStore,
  type RevocationStoreCase,
  revocationStoreCases,
} from "./storage/revocation-conformance.js";
export type { Fence, ListOptions, ListPage, RelayStorage } from "./storage/storage.js";
export {
  describeWebhookOutbox,
  type WebhookOutboxCase,
  webhookOutboxCases,
} from "./storage/webhook-outbox-conformance.js";
