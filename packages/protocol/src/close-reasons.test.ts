import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CloseCode, errorCodeForClose } from "./close-codes.js";
import { errorForClose } from "./close-errors.js";
import { closeCodeOfReason, closeReasons, formatCloseReason, isLogoutAck, parseCloseReason } from "./close-reasons.js";
import { ErrorCode } from "./error-codes.js";
import { RelayError, TokenExpiredError, TokenInvalidError } from "./errors.js";

const codes = Object.values(CloseCode);

describe("close reasons", () => {
  it("every token is one word and belongs to a close code, and every close code has a token", () => {
    for (const [token, code] of closeReasons()) {
      expect(token).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(codes).toContain(code);
    }
    for (const code of codes) expect(closeReasons().some(([, owner]) => owner === code)).toBe(true);
  });

  it("a logout is acknowledged only by 1000 logged-out", () => {
    expect(isLogoutAck(1000, "logged-out")).toBe(true);
    expect(isLogoutAck(1000, "logged-out stored")).toBe(true);
    expect(isLogoutAck(1000, "")).toBe(false);
    expect(isLogoutAck(1000, "client stopped")).toBe(false);
    expect(isLogoutAck(1006, "logged-out")).toBe(false);
    expect(isLogoutAck(1011, "logout-failed")).toBe(false);
  });

  it("reads back the token it wrote, only with its own close code", () => {
    for (const [token, code] of closeReasons()) {
      expect(parseCloseReason(code, formatCloseReason(token, "some prose: with words"))).toEqual({
        reason: token,
        detail: "some prose: with words",
      });
      expect(parseCloseReason(code, token)).toEqual({ reason: token, detail: "" });
      const other = codes.find((c) => c !== code) as number;
      expect(parseCloseReason(other, token).reason).toBeUndefined();
    }
  });

  it("every token is documented in PROTOCOL.md with its close code", () => {
    const doc = readFileSync(new URL("../PROTOCOL.md", import.meta.url), "utf8");
    for (const [token, code] of closeReasons()) expect(doc).toContain(`| ${code} | \`${token}\` |`);
  });

  it("does not guess: prose, an unknown word or an empty reason read as no token", () => {
    expect(parseCloseReason(4401, "token refused: unknown kid").reason).toBeUndefined();
    expect(parseCloseReason(4401, "revoked").reason).toBeUndefined();
    expect(parseCloseReason(4401, "").reason).toBeUndefined();
    expect(parseCloseReason(4401, "toString").reason).toBeUndefined();
    expect(closeCodeOfReason("__proto__")).toBeUndefined();
  });
});

describe("errorForClose", () => {
  it("gives every token's close code its own class with that code, and the token as reason", () => {
    for (const [token, code] of closeReasons()) {
      const error = errorForClose(code, formatCloseReason(token, "detail"));
      const expected = errorCodeForClose(code) ?? ErrorCode.RelayUnavailable;
      expect(error.code).toBe(expected);
      expect((error.constructor as { code?: string }).code ?? expected).toBe(expected);
      if (error instanceof RelayError) {
        expect([1000, 1001, 1011]).toContain(code);
        expect(error).toMatchObject({ closeCode: code, reason: token });
      } else if ("reason" in error) {
        expect(error.reason).toBe(token);
      }
      expect((error.constructor as { closeCode?: number }).closeCode ?? code).toBe(code);
      expect(error.message).toContain(token);
    }
  });

  it("maps the token problems of 4401 exactly, and an unknown word to no reason", () => {
    for (const problem of [
      "missing",
      "malformed",
      "too-large",
      "signature",
      "unknown-key",
      "algorithm",
      "claims",
      "token-denied",
      "key-removed",
    ]) {
      const error = errorForClose(4401, `${problem} whatever the prose says`);
      expect(error).toBeInstanceOf(TokenInvalidError);
      expect((error as TokenInvalidError).reason).toBe(problem);
    }
    expect((errorForClose(4401, "token has no kid header") as TokenInvalidError).reason).toBeUndefined();
    expect(errorForClose(4402, "expired")).toBeInstanceOf(TokenExpiredError);
  });
});
