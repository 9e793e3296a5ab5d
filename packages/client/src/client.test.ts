import { ClientDestroyedError, ErrorCode, InvalidArgumentError, MAX_TEXT_LENGTH } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { createClient } from "./client.js";
import { memoryStorage } from "./storage/memory-storage.js";

const base = { appId: "app1", relayUrl: "ws://127.0.0.1:9/v1", connect: false } as const;
const unsignedToken = (payload: Record<string, unknown>) =>
  `e30.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.sig`;

function argumentOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.argument;
    throw error;
  }
  return undefined;
}

describe("createClient arguments", () => {
  it("refuses each malformed option with an InvalidArgumentError naming it", () => {
    const storage = memoryStorage();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, storage, appId: "bad app" }, "options.appId"],
      [{ ...base, storage, relayUrl: "http://example.com" }, "options.relayUrl"],
      [{ ...base, storage, relayUrl: 42 }, "options.relayUrl"],
      [{ ...base, storage, relayUrl: "ws://relay/v1?token=x" }, "options.relayUrl"],
      [{ ...base, storage: { get() {} } }, "options.storage"],
      [{ ...base, storage, WebSocket: "ws" }, "options.WebSocket"],
      [{ ...base, storage, onTokenExpired: "token" }, "options.onTokenExpired"],
      [{ ...base, storage, clientInfo: { platform: "" } }, "options.clientInfo.platform"],
      [{ ...base, storage, clientInfo: { appVersion: "x".repeat(129) } }, "options.clientInfo.appVersion"],
      [{ ...base, storage, tabSync: "yes" }, "options.tabSync"],
      [{ ...base, storage, loginTimeoutMs: -1 }, "options.loginTimeoutMs"],
      [{ ...base, storage, flushTimeoutMs: Number.NaN }, "options.flushTimeoutMs"],
      [{ ...base }, "options.storage"],
      [{ appId: "app1", relayUrl: "ws://127.0.0.1:9/v1", storage }, "options.WebSocket"],
    ];
    for (const [options, argument] of cases) {
      expect(argumentOf(() => createClient(options as never))).toBe(argument);
    }
    expect(argumentOf(() => createClient(null as never))).toBe("options");
  });

  it("validates send, setProfile, login, flush and on with typed errors and loses nothing", async () => {
    const client = createClient({ ...base, storage: memoryStorage() });
    await client.ready;
    await expect(client.send("")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.send("x".repeat(MAX_TEXT_LENGTH + 1))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.send(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.send("ok", { metadata: { f: () => 1 } as never })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      argument: "options.metadata",
    });
    await expect(client.setProfile({ email: 1 } as never)).rejects.toMatchObject({ argument: "patch.email" });
    await expect(client.login("", "a.b.c")).rejects.toMatchObject({ argument: "userId" });
    await expect(client.login("u1", "not-a-jwt")).rejects.toMatchObject({ argument: "jwt" });
    await expect(client.login("u1", unsignedToken({ sub: "someone-else" }))).rejects.toMatchObject({
      argument: "jwt",
    });
    await expect(
      client.login("u1", unsignedToken({ sub: "u1" }), { discardUnsent: "yes" } as never),
    ).rejects.toMatchObject({
      argument: "options.discardUnsent",
    });
    await expect(client.flush({ timeoutMs: -5 })).rejects.toMatchObject({ argument: "options.timeoutMs" });
    expect(() => client.on("nope" as never, () => {})).toThrow(InvalidArgumentError);
    expect(client.messages()).toEqual([]);
    expect(client.profile()).toEqual({ properties: {} });
    await client.destroy();
  });

  it("can be destroyed before it is ready", async () => {
    const client = createClient({ ...base, storage: memoryStorage() });
    await client.destroy();
    await expect(client.ready).rejects.toBeInstanceOf(ClientDestroyedError);
  });

  it("accepts Smooch-style appUser tokens naming the userId", async () => {
    const client = createClient({ ...base, storage: memoryStorage(), loginTimeoutMs: 0 });
    await client.ready;
    const result = await client.login("u2", unsignedToken({ scope: "appUser", userId: "u2" }));
    expect(result).toEqual({ authenticated: false });
    expect(client.identity).toEqual({ kind: "user", userId: "u2", authenticated: false });
    await client.destroy();
  });

  it("creates an anonymous identity offline and rejects every call after destroy", async () => {
    const storage = memoryStorage();
    const client = createClient({ ...base, storage });
    await client.ready;
    expect(client.identity.kind).toBe("anonymous");
    expect(client.clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const sent = await client.send("hello", { metadata: { n: 1 } });
    expect(sent).toMatchObject({ text: "hello", status: "pending", mine: true, role: "user", metadata: { n: 1 } });
    await client.destroy();
    const again = createClient({ ...base, storage });
    await again.ready;
    expect(again.identity).toEqual(client.identity);
    expect(again.messages().map((m) => m.text)).toEqual(["hello"]);
    await again.destroy();

    await expect(client.send("x")).rejects.toBeInstanceOf(ClientDestroyedError);
    await expect(client.login("u", unsignedToken({ sub: "u" }))).rejects.toBeInstanceOf(ClientDestroyedError);
    await expect(client.logout()).rejects.toBeInstanceOf(ClientDestroyedError);
    await expect(client.flush()).rejects.toBeInstanceOf(ClientDestroyedError);
    await expect(client.setProfile({})).rejects.toBeInstanceOf(ClientDestroyedError);
    // destroy() is idempotent: a second call settles like the first.
    await expect(client.destroy()).resolves.toBeUndefined();
    expect(() => client.messages()).toThrow(ClientDestroyedError);
    expect(() => client.on("messages", () => {})).toThrow(ClientDestroyedError);
  });
});
