import { describe, it } from "vitest";
import { describeRelayStorage } from "./conformance.js";
import { MemoryStorage } from "./storage.js";

describeRelayStorage({ describe, it }, "MemoryStorage", () => {
  const storage = new MemoryStorage();
  return { open: () => storage };
});
