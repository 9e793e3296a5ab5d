import { describe, it } from "vitest";
import { describeRelayStorage } from "./conformance.js";
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
