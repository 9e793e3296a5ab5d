import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  anonymousIdFromSecret,
  anonymousToken,
  clientIdFromSecret,
  createSecret,
  parseAnonymousToken,
} from "./credentials.js";
import { listMessages, type MessageRecord, messagesOf, nextTimestamp, profileLogOf, readProfile } from "./layout.js";
import { checkUserMessage } from "./records.js";

const msg = (id: string, ts: number, client = "c1"): MessageRecord => ({ id, role: "user", client, text: id, ts });

describe("conversation layout", () => {
  it("orders merged histories by (ts, id) identically whatever the merge order", () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    messagesOf(a).push([msg("aaaaaaaa", 1), msg("aaaaaaab", 5)]);
    messagesOf(b).push([msg("bbbbbbbb", 3), msg("bbbbbbbc", 5)]);
    const ab = new Y.Doc();
    Y.applyUpdate(ab, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(ab, Y.encodeStateAsUpdate(b));
    const ba = new Y.Doc();
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(a));
    const ids = listMessages(ab).map((m) => m.id);
    expect(ids).toEqual(["aaaaaaaa", "bbbbbbbb", "aaaaaaab", "bbbbbbbc"]);
    expect(listMessages(ba).map((m) => m.id)).toEqual(ids);
  });

  it("counts a message id once", () => {
    const doc = new Y.Doc();
    messagesOf(doc).push([msg("dupdupdu", 1), msg("dupdupdu", 1)]);
    expect(listMessages(doc)).toHaveLength(1);
  });

  it("resolves the profile by newest write per key", () => {
    const doc = new Y.Doc();
    profileLogOf(doc).push([
      { key: "givenName", value: "Old", ts: 2, client: "c1" },
      { key: "givenName", value: "New", ts: 3, client: "c0" },
      { key: "email", value: "a@b.c", ts: 1, client: "c1" },
      { key: "properties.plan", value: { tier: "gold" }, ts: 1, client: "c1" },
      { key: "email", value: null, ts: 4, client: "c1" },
    ]);
    expect(readProfile(doc)).toEqual({ givenName: "New", properties: { plan: { tier: "gold" } } });
  });

  it("keeps the hybrid clock ahead of what it has seen", () => {
    expect(nextTimestamp(10, 5)).toBe(11);
    expect(nextTimestamp(10, 50)).toBe(50);
  });

  it("validates what a user client writes", () => {
    expect(checkUserMessage(msg("abcdefgh", 1), "c1", 10)).toBeNull();
    expect(checkUserMessage(msg("abcdefgh", 1), "c2", 10)).toMatch(/client/);
    expect(checkUserMessage({ ...msg("abcdefgh", 1), role: "business" }, "c1", 10)).toMatch(/role/);
    expect(checkUserMessage({ ...msg("abcdefgh", 1), extra: 1 }, "c1", 10)).toMatch(/unexpected/);
    expect(checkUserMessage(msg("abcdefgh", 10 + 11 * 60_000), "c1", 10)).toMatch(/future/);
  });
});

describe("credentials", () => {
  it("derive stable public ids from secrets", () => {
    const secret = createSecret();
    expect(anonymousIdFromSecret(secret)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(anonymousIdFromSecret(secret)).toBe(anonymousIdFromSecret(secret));
    expect(clientIdFromSecret(secret)).not.toBe(anonymousIdFromSecret(secret));
    expect(parseAnonymousToken(anonymousToken(secret))).toBe(secret);
    expect(parseAnonymousToken("anon.short")).toBeNull();
    expect(() => anonymousIdFromSecret("nope")).toThrow(/createSecret/);
  });
});
