/**
 * @parley/relay: JWT-gated y-websocket rooms on durable storage. Run it with the `parley-relay` CLI or
 * embed it with {@link createRelay}.
 */

export { type ClusterParts, type ClusterStats, openCluster } from "./cluster/open-cluster.js";
export type { ClusterConfig } from "./config/cluster-config.js";
export {
  type AppConfig,
  type FsyncPolicy,
  type KeyConfig,
  loadConfig,
  type PublicKeyConfig,
  parseConfig,
  type RelayConfig,
  type SecretKeyConfig,
} from "./config/config.js";
export type { StorageConfig } from "./config/storage-config.js";
export { ADMIN_RELOAD_PATH } from "./core/admin-endpoint.js";
export type {
  Authenticated,
  AuthenticateRequest,
  ChangeEvent,
  ConnectionEvent,
  DisconnectEvent,
  ExtensionContext,
  RefusalEvent,
  RelayExtension,
  RoomHandle,
  RoomOpener,
  StorageWriteEvent,
  StoredEvent,
  UpgradeDecision,
} from "./core/extension.js";
export { createJsonLogger, type LogFields, type Logger, type LogLevel, silentLogger } from "./core/logger.js";
export {
  createRelay,
  defaultExtensions,
  type Relay,
  type RelayOptions,
  type ReloadOptions,
  type ReloadResult,
} from "./core/relay.js";
export type { RoomLease, RoomLeases } from "./core/room-leases.js";
export { businessRoomOf } from "./extensions/business-api/business-api.js";
export { type BusinessApiOptions, businessApi } from "./extensions/business-api/business-api-extension.js";
export { METRICS_PATH, type MetricsOptions, metrics } from "./extensions/metrics/metrics.js";
export {
  WEBHOOK_EVENTS,
  type WebhookConfig,
  type WebhookEventType,
  type WebhookRetryConfig,
} from "./extensions/webhooks/webhook-config.js";
export type { WebhookEvent } from "./extensions/webhooks/webhook-queue.js";
export { SIGNATURE_HEADER, signWebhook } from "./extensions/webhooks/webhook-signature.js";
export { type WebhooksExtension, webhooks } from "./extensions/webhooks/webhooks.js";
export type { Credential, CredentialProblem } from "./identity/credential.js";
export type { KeyRing, VerifiedJwt, VerifiedToken } from "./identity/jwt.js";
export { isRevokedUpgrade } from "./identity/revocation-gate.js";
export {
  type AdmissionBackend,
  LocalAdmission,
  type Rate,
  type RateKind,
  type SlotKind,
} from "./limits/admission-backend.js";
export { remoteAddress } from "./limits/connection-quota.js";
export { KeyedRate } from "./limits/keyed-rate.js";
export { DEFAULT_LIMITS, type Limits } from "./limits/limits.js";
export {
  assertIndexEntry,
  assertPageArguments,
  type ConversationIndex,
  type ConversationIndexPage,
  type ConversationIndexPageOptions,
  type ConversationPosition,
  conversationIndexOf,
  MAX_CONVERSATION_PAGE,
} from "./storage/conversation-index.js";
export { FileStorage, type FileStorageOptions } from "./storage/file-store.js";
export { MemoryConversationIndex } from "./storage/memory-conversation-index.js";
export { MemoryRevocationStore } from "./storage/memory-revocation-store.js";
export { MemoryWebhookOutbox } from "./storage/memory-webhook-outbox.js";
export { openStorage } from "./storage/open-storage.js";
export {
  type AnonymousRevocation,
  assertRevocationArguments,
  CLAIMED_BY_DEFAULT_LIMIT,
  CLAIMED_BY_MAX_LIMIT,
  type ClaimedByPage,
  type ClaimedByQuery,
  claimedByQuery,
  type RevocationStore,
  revocationStoreOf,
} from "./storage/revocation-store.js";
export {
  DEFAULT_LIST_LIMIT,
  type Fence,
  type ListOptions,
  type ListPage,
  MAX_LIST_LIMIT,
  MemoryStorage,
  type RelayStorage,
} from "./storage/storage.js";
export {
  type ClaimedWebhookDelivery,
  type NewWebhookDelivery,
  type WebhookOutbox,
  type WebhookOutboxEndpoint,
  webhookOutboxOf,
} from "./storage/webhook-outbox.js";
