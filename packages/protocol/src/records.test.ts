import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkMeta, isJsonValue } from "./records.js";

describe("JSON values", () => {
  it('refuses a "__proto__" key (from JSON.parse), which peers would decode as another value', () => {
    const meta = JSON.parse('{"__proto__": {"b": 1}, "a": 2}') as unknown;
    expect(isJsonValue(meta)).toBe(false);
    expect(checkMeta(meta)).toMatch(/JSON object/);
    expect(isJsonValue({ nested: JSON.parse('{"__proto__": null}') })).toBe(false);
    // What a peer decodes is not what was written: the relay would refuse the writer's own message.
    const doc = new Y.Doc();
    doc.getArray("a").push([meta]);
    const decoded = new Y.Doc();
    Y.applyUpdate(decoded, Y.encodeStateAsUpdate(doc));
    expect(Object.getPrototypeOf(decoded.getArray("a").get(0))).not.toBe(Object.prototype);
    expect(isJsonValue({ a: { proto: 1 }, b: [null, "x"] })).toBe(true);
  });
});
