import { describe, expect, it } from "vitest";
import { truncateReason } from "./refusal.js";

describe("truncateReason", () => {
  it("keeps short reasons and cuts long ones to 123 UTF-8 bytes without splitting a character", () => {
    expect(truncateReason("token expired")).toBe("token expired");
    const ascii = truncateReason("x".repeat(500));
    expect(new TextEncoder().encode(ascii).length).toBe(123);
    const emoji = truncateReason("😀".repeat(100));
    expect(new TextEncoder().encode(emoji).length).toBeLessThanOrEqual(123);
    expect(emoji).toBe("😀".repeat(30));
  });
});
