import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { parseStorageConfig, storageFromEnv } from "./storage-config.js";

const apps = [{ id: "app", keys: [{ kid: "k1", alg: "HS256", secret: "s".repeat(32) }] }];

describe("storage config", () => {
  it("defaults to the embedded file store", () => {
    expect(parseConfig({ apps }).storage).toEqual({ kind: "file" });
    expect(parseStorageConfig({ kind: "file" })).toEqual({ kind: "file" });
  });

  it("accepts PostgreSQL with a URL and an optional schema", () => {
    expect(parseConfig({ apps, storage: { kind: "postgres", url: "postgres://u@h:5432/db" } }).storage).toEqual({
      kind: "postgres",
      url: "postgres://u@h:5432/db",
    });
    expect(parseStorageConfig({ kind: "postgres", url: "postgresql://h/db", schema: "tenant_1" })).toEqual({
      kind: "postgres",
      url: "postgresql://h/db",
      schema: "tenant_1",
    });
  });

  it.each([
    [[], "config.storage"],
    [{ kind: "mysql" }, "config.storage.kind"],
    [{ kind: "postgres" }, "config.storage.url"],
    [{ kind: "postgres", url: "http://h/db" }, "config.storage.url"],
    [{ kind: "postgres", url: "postgres://h/db", schema: "Drop Table" }, "config.storage.schema"],
    [{ kind: "postgres", url: "postgres://h/db", shema: "x" }, "config.storage.shema"],
    [{ kind: "file", url: "postgres://h/db" }, "config.storage.url"],
  ])("refuses %j naming %s", (raw, argument) => {
    const error = (() => {
      try {
        parseStorageConfig(raw);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });

  it("takes the URL and schema from PARLEY_STORAGE_URL and PARLEY_STORAGE_SCHEMA", () => {
    expect(storageFromEnv(undefined, {})).toBeUndefined();
    expect(storageFromEnv(undefined, { PARLEY_STORAGE_URL: "postgres://h/db" })).toEqual({
      kind: "postgres",
      url: "postgres://h/db",
    });
    expect(
      storageFromEnv({ kind: "postgres", url: "postgres://file/db", schema: "a" }, { PARLEY_STORAGE_SCHEMA: "b" }),
    ).toEqual({ kind: "postgres", url: "postgres://file/db", schema: "b" });
  });
});
