import { decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { createBusinessClient } from "./client.js";
import { BusinessApiError, NotFoundError, RelayUnavailableError } from "./errors.js";

const secret = "k".repeat(40);

interface Call {
  url: string;
  init: RequestInit;
}

/** A fetch that records calls and answers with `answer` (unit test only; the integration tests use a real relay). */
function fakeFetch(answer: (call: Call) => Response | Promise<Response>): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(input), init: init ?? {} };
    calls.push(call);
    return answer(call);
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("business client", () => {
  it("validates its options with typed errors", () => {
    const base = { baseUrl: "http://relay", appId: "app", keyId: "k1", secret };
    expect(() => createBusinessClient({ ...base, baseUrl: "relay" })).toThrow(/baseUrl/);
    expect(() => createBusinessClient({ ...base, baseUrl: "ws://relay" })).toThrow(/baseUrl/);
    expect(() => createBusinessClient({ ...base, appId: "" })).toThrow(/appId/);
    expect(() => createBusinessClient({ ...base, secret: undefined as unknown as string })).toThrow(/secret/);
  });

  it("signs short-lived app tokens with the key id and no subject, and encodes subjects in the path", async () => {
    const fake = fakeFetch(() => json(201, { message: { id: "m1", role: "business", text: "hi", ts: 1 } }));
    const client = createBusinessClient({
      baseUrl: "http://relay/",
      appId: "app",
      keyId: "k1",
      secret,
      fetch: fake.fetch,
    });
    const result = await client.postMessage({ kind: "user", id: "a/b é" }, { text: "hi" });
    expect(result).toEqual({ message: { id: "m1", role: "business", text: "hi", ts: 1 }, created: true });
    const call = fake.calls[0] as Call;
    expect(call.url).toBe("http://relay/v1/apps/app/users/a%2Fb%20%C3%A9/messages");
    expect(call.init.method).toBe("POST");
    expect(JSON.parse(String(call.init.body))).toEqual({ text: "hi" });
    const token = String((call.init.headers as Record<string, string>).authorization).replace("Bearer ", "");
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "HS256", kid: "k1" });
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret));
    expect(payload.scope).toBe("app");
    expect(payload.sub).toBeUndefined();
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    // A random token id, so an operator can deny this token alone (denyTokenIds); each client draws its own.
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    const other = fakeFetch(() => json(201, { message: { id: "m2", role: "business", text: "hi", ts: 1 } }));
    const second = createBusinessClient({
      baseUrl: "http://relay/",
      appId: "app",
      keyId: "k1",
      secret,
      fetch: other.fetch,
    });
    await second.postMessage({ kind: "user", id: "x" }, { text: "hi" });
    const otherToken = String(((other.calls[0] as Call).init.headers as Record<string, string>).authorization);
    expect(decodeJwt(otherToken.replace("Bearer ", "")).jti).not.toBe(payload.jti);
  });

  it("turns API error answers into typed errors with code and status", async () => {
    const answers = [
      json(404, { error: { code: "ERR_NOT_FOUND", message: 'no user "x"' } }),
      json(403, { error: { code: "ERR_FORBIDDEN", message: "this key belongs to another app" } }),
      new Response("<html>bad gateway</html>", { status: 502 }),
    ];
    const fake = fakeFetch(() => answers.shift() as Response);
    const client = createBusinessClient({
      baseUrl: "http://relay",
      appId: "app",
      keyId: "k1",
      secret,
      fetch: fake.fetch,
    });
    const subject = { kind: "user", id: "x" } as const;
    const notFound = await client.getSubject(subject).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({ code: "ERR_NOT_FOUND", message: 'no user "x"' });
    expect((notFound as NotFoundError).cause).toMatchObject({ code: "ERR_NOT_FOUND", status: 404 });
    const forbidden = await client.getSubject(subject).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(BusinessApiError);
    expect(forbidden).toMatchObject({ code: "ERR_FORBIDDEN", status: 403 });
    expect(await client.getSubject(subject).catch((e: unknown) => e)).toBeInstanceOf(RelayUnavailableError);
  });

  it("reports an unreachable relay as RelayUnavailableError", async () => {
    const fake = fakeFetch(() => {
      throw new TypeError("fetch failed");
    });
    const client = createBusinessClient({
      baseUrl: "http://relay",
      appId: "app",
      keyId: "k1",
      secret,
      fetch: fake.fetch,
    });
    const error = await client.listConversations().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayUnavailableError);
    expect((error as RelayUnavailableError).code).toBe("ERR_RELAY_UNAVAILABLE");
  });
});
