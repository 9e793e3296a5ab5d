import { describe, it } from "vitest";
import { describeRelayStorage } from "./conformance.js";
import { describeRevocationStore } from "./revocation-conformance.js";
import { MemoryStorage } from "./storage.js";
import { describeWebhookOutbox } from "./webhook-outbox-conformance.js";

describeRelayStorage({ describe, it }, "MemoryStorage", () => {
  const storage = new MemoryStorage();
  return { open: () => storage };
});

describeWebhookOutbox({ describe, it }, "MemoryStorage", () => {
  const storage = new MemoryStorage({ webhookOutbox: true });
  return { open: () => storage };
});

describeRevocationStore({ describe, it }, "MemoryStorage", () => {
  const storage = new MemoryStorage({ revocations: true });
  return { open: () => storage };
});
