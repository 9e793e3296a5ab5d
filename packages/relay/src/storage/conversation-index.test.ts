import { describe, it } from "vitest";
import { describeConversationIndex } from "./conversation-index-conformance.js";
import { MemoryStorage } from "./storage.js";

describeConversationIndex({ describe, it }, "MemoryStorage", () => {
  const storage = new MemoryStorage({ conversationIndex: true });
  return { open: () => storage };
});
