import { CloseCode, parseCloseReason } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { Refusal, truncateReason } from "./refusal.js";

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

describe("Refusal", () => {
  it("carries the close code, its reason token and the prose, and reads back as that token", () => {
    const refusal = new Refusal(CloseCode.BadRequest, "bad-info", "malformed info parameter");
    expect(refusal).toMatchObject({ code: 4400, reason: "bad-info", detail: "malformed info parameter" });
    expect(parseCloseReason(4400, truncateReason(`${refusal.reason} ${"x".repeat(500)}`)).reason).toBe("bad-info");
  });
});
