import { describe, expect, it } from "vitest";
import { typingOf } from "./presence.js";

describe("typing presence", () => {
  it("reads who is typing, and only until the indicator's end", () => {
    const now = 1_000_000;
    expect(typingOf({ typing: { role: "user", until: now + 1 } }, now)).toBe("user");
    expect(typingOf({ typing: { role: "business", until: now + 5_000 } }, now)).toBe("business");
    expect(typingOf({ typing: true }, now)).toBe("user");
    expect(typingOf({ typing: { role: "user", until: now } }, now)).toBeNull();
    expect(typingOf({ typing: { role: "robot", until: now + 1 } }, now)).toBeNull();
    expect(typingOf({ typing: { role: "user" } }, now)).toBeNull();
    for (const state of [null, undefined, 7, {}, { typing: false }, { typing: null }, { typing: "yes" }]) {
      expect(typingOf(state, now)).toBeNull();
    }
  });
});
