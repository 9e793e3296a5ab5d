import type { MessageRecord } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { type ConversationMessage, toMessageView } from "./conversation.js";
import { previewMaxTimestamp, withPreview } from "./preview.js";

const ME = "client-me";
const user = (id: string, ts: number, client = "client-other"): MessageRecord => ({
  id,
  role: "user",
  client,
  text: id,
  ts,
});

describe("withPreview", () => {
  it("merges the preview with local messages in display order, the local copy of an id winning", () => {
    const local: ConversationMessage[] = [
      toMessageView(user("local-0001", 15, ME), "pending", ME, 0),
      toMessageView(user("shared-001", 20), "pending", ME, 0),
    ];
    const preview = {
      messages: [user("remote-001", 10), user("shared-001", 20), user("remote-002", 30, ME)],
      reads: { user: 0, business: 10 },
    };
    const merged = withPreview(local, preview, ME, 10);
    expect(merged.map((m) => [m.id, m.status, m.mine, m.readByBusiness])).toEqual([
      ["remote-001", "sent", false, true],
      ["local-0001", "pending", true, false],
      ["shared-001", "pending", false, false],
      ["remote-002", "sent", true, false],
    ]);
    expect(previewMaxTimestamp(preview)).toBe(30);
    expect(previewMaxTimestamp(undefined)).toBe(0);
  });

  it("returns the local list itself when the preview adds nothing", () => {
    const local = [toMessageView(user("shared-001", 20), "sent", ME, 0)];
    expect(withPreview(local, { messages: [user("shared-001", 20)], reads: { user: 0, business: 0 } }, ME, 0)).toBe(
      local,
    );
  });
});
