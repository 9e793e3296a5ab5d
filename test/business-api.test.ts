/**
 * The business API against a real relay process, over real HTTP, with stock y-websocket clients
 * (`disableBc: true`, so everything they see came through the relay).
 */
import {
  BusinessApiError,
  type BusinessClient,
  createBusinessClient,
  NotFoundError,
  type SubjectRef,
} from "@parley/business";
import {
  anonymousIdFromSecret,
  anonymousToken,
  BUSINESS_READ_KEY,
  createSecret,
  listMessages,
  type MessageRecord,
  MessageType,
  messagesOf,
  readsOf,
  roomName,
} from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { api, OTHER_APP, signAppToken, startBusinessRelay } from "./business-support.js";
import {
  connectRaw,
  openProvider,
  type RelayHandle,
  signUserToken,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
const providers: TestProvider[] = [];

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.destroy();
  await relay?.stop();
  relay = undefined;
});

function business(handle: RelayHandle): BusinessClient {
  return createBusinessClient({
    baseUrl: handle.httpUrl,
    appId: TEST_APP.id,
    keyId: TEST_APP.kid,
    secret: TEST_APP.secret,
  });
}

async function userProvider(handle: RelayHandle, userId: string): Promise<TestProvider> {
  const provider = openProvider(
    handle,
    roomName({ appId: TEST_APP.id, kind: "user", subject: userId }),
    await signUserToken(userId),
  );
  providers.push(provider);
  await waitFor(() => provider.provider.synced, { what: "provider synced" });
  return provider;
}

let sequence = 0;
function userMessage(provider: TestProvider, text: string, ts = Date.now()): MessageRecord {
  sequence += 1;
  const record: MessageRecord = {
    id: `msg-${sequence}-${text.length}xx`,
    role: "user",
    client: provider.clientId,
    text,
    ts,
  };
  messagesOf(provider.doc).push([record]);
  return record;
}

describe("business API authentication", () => {
  it("refuses missing, malformed, badly signed, expired and user tokens, and other apps' keys", async () => {
    relay = await startBusinessRelay();
    const path = "users";
    const expectError = async (token: string | null, status: number, code: string, appId?: string) => {
      const answer = await api(relay as RelayHandle, "GET", path, appId === undefined ? { token } : { token, appId });
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(typeof answer.body.error.message).toBe("string");
    };
    await expectError(null, 401, "ERR_TOKEN_INVALID");
    await expectError("not-a-jwt", 401, "ERR_TOKEN_INVALID");
    await expectError(
      await signAppToken({ secret: "wrong-secret-0123456789-abcdefghijklmnopqrstu" }),
      401,
      "ERR_TOKEN_INVALID",
    );
    await expectError(await signAppToken({ kid: "nobody" }), 401, "ERR_TOKEN_INVALID");
    await expectError(await signAppToken({ expiresIn: -120 }), 401, "ERR_TOKEN_EXPIRED");
    await expectError(await signAppToken({ expiresIn: null }), 401, "ERR_TOKEN_INVALID");
    // A user token, correctly signed by the app's own key, never opens the business API.
    await expectError(await signUserToken("alice"), 403, "ERR_FORBIDDEN");
    await expectError(
      await signUserToken("alice", { claims: { scope: "appUser", userId: "alice" } }),
      403,
      "ERR_FORBIDDEN",
    );
    await expectError(await signAppToken({ claims: { scope: "app", sub: "alice" } }), 403, "ERR_FORBIDDEN");
    // App X's key on app Y, both ways.
    await expectError(await signAppToken(), 403, "ERR_FORBIDDEN", OTHER_APP.id);
    await expectError(await signAppToken({ kid: OTHER_APP.kid, secret: OTHER_APP.secret }), 403, "ERR_FORBIDDEN");
    await expectError(await signAppToken(), 404, "ERR_UNKNOWN_APP", "no-such-app");
    // Without a valid token nothing else is looked at, not even whether the path makes sense.
    expect((await api(relay, "GET", "anonymous/short", { token: null })).status).toBe(401);
    expect((await api(relay, "POST", "users/x/nonsense", { token: null })).status).toBe(401);
    // The right key works, and the other app sees none of this app's users.
    expect((await api(relay, "GET", path)).status).toBe(200);
    await api(relay, "PUT", "users/only-in-testapp", { body: {} });
    const other = await api(relay, "GET", path, {
      token: await signAppToken({ kid: OTHER_APP.kid, secret: OTHER_APP.secret }),
      appId: OTHER_APP.id,
    });
    expect(other.status).toBe(200);
    expect(other.body.users).toEqual([]);
  });

  it("answers malformed requests with typed 400/404 errors and stores nothing", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    await sdk.upsertUser("bob");
    const bob: SubjectRef = { kind: "user", id: "bob" };
    const invalid = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BusinessApiError);
      expect((error as BusinessApiError).code).toBe("ERR_INVALID_ARGUMENT");
      expect((error as BusinessApiError).status).toBe(400);
    };
    await invalid(sdk.postMessage(bob, { text: "" }));
    await invalid(sdk.postMessage(bob, { text: "x", metadata: [] as unknown as Record<string, never> }));
    await invalid(sdk.postMessage(bob, { text: "x", id: "bad id!" }));
    await invalid(sdk.listMessages(bob, { before: "garbage" }));
    await invalid(sdk.markRead(bob, Date.now() + 24 * 3600_000));
    const raw = await fetch(`${relay.httpUrl}/v1/apps/${TEST_APP.id}/users/bob/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${await signAppToken()}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(raw.status).toBe(400);
    expect((await sdk.listMessages(bob)).messages).toEqual([]);
    await invalid(sdk.upsertUser("bob", { nickname: "bobby" } as unknown as { givenName: string }));
    await invalid(sdk.upsertUser("bob", { givenName: 42 } as unknown as { givenName: string }));
    await invalid(sdk.listConversations({ kind: "robot" as "user" }));
    await invalid(sdk.listConversations({ limit: 0 }));
    await invalid(sdk.listMessages(bob, { limit: 201 }));
    expect((await api(relay, "PUT", "users/bob", { body: { profile: {}, extra: 1 } })).status).toBe(400);
    expect((await sdk.getSubject(bob)).profile).toEqual({ properties: {} });

    const missing = await sdk.getSubject({ kind: "user", id: "nobody" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe("ERR_NOT_FOUND");
    expect((await api(relay, "POST", "users/nobody/messages", { body: { text: "hi" } })).status).toBe(404);
    expect((await api(relay, "GET", "anonymous/short")).status).toBe(400);
    expect((await api(relay, "PATCH", "users/bob")).status).toBe(404);
    expect((await api(relay, "DELETE", "users/bob/messages")).status).toBe(404);
  });
});

describe("business API on conversations", () => {
  it("delivers a business reply live to two clients of one user and stores it before answering", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const phone = await userProvider(relay, "carol");
    const laptop = await userProvider(relay, "carol");
    const question = userMessage(phone, "is my order shipped?");
    await waitFor(() => listMessages(laptop.doc).length === 1, { what: "laptop sees the question" });

    const { message, created } = await sdk.postMessage(
      { kind: "user", id: "carol" },
      { text: "yes, this morning", author: { id: "agent-7", name: "Dana" }, metadata: { ticket: 42 } },
    );
    expect(created).toBe(true);
    expect(message).toMatchObject({
      role: "business",
      text: "yes, this morning",
      author: { id: "agent-7", name: "Dana" },
    });
    expect(message.metadata).toEqual({ ticket: 42 });
    expect(message.ts).toBeGreaterThan(question.ts);
    for (const device of [phone, laptop]) {
      await waitFor(() => listMessages(device.doc).some((m) => m.id === message.id), {
        what: "reply reached a client",
      });
      expect(listMessages(device.doc).map((m) => m.text)).toEqual(["is my order shipped?", "yes, this morning"]);
    }
    // Posting the same id again (a retried call) writes nothing new.
    const again = await sdk.postMessage({ kind: "user", id: "carol" }, { text: "yes, this morning", id: message.id });
    expect(again.created).toBe(false);
    expect(again.message).toEqual(message);

    // The 201 came after the durable write: a SIGKILL right after it loses nothing.
    for (const provider of providers.splice(0)) provider.destroy();
    await relay.kill();
    await relay.restart();
    const page = await sdk.listMessages({ kind: "user", id: "carol" });
    expect(page.messages.map((m) => m.text)).toEqual(["is my order shipped?", "yes, this morning"]);
  });

  it("pages messages backwards from the newest", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const phone = await userProvider(relay, "dave");
    const base = Date.now() - 100_000;
    for (let i = 0; i < 25; i++) userMessage(phone, `m${String(i).padStart(2, "0")}`, base + i);
    const subject: SubjectRef = { kind: "user", id: "dave" };
    await waitFor(async () => (await sdk.getSubject(subject).catch(() => null))?.messageCount === 25, {
      what: "stored",
    });
    const texts: string[][] = [];
    let before: string | undefined;
    for (;;) {
      const page = await sdk.listMessages(subject, before === undefined ? { limit: 10 } : { limit: 10, before });
      texts.push(page.messages.map((m) => m.text));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(texts.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(texts[0]?.[0]).toBe("m15");
    expect(texts[2]).toEqual(["m00", "m01", "m02", "m03", "m04"]);
    expect(texts.reverse().flat()).toEqual(Array.from({ length: 25 }, (_, i) => `m${String(i).padStart(2, "0")}`));
    expect(texts.flat().every((m) => m.startsWith("m"))).toBe(true);
  });

  it("exposes both read positions and unread counts, and moves the business position forward only", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const phone = await userProvider(relay, "erin");
    const subject: SubjectRef = { kind: "user", id: "erin" };
    // Distinct timestamps, so "read up to the first" leaves exactly the second unread.
    const first = userMessage(phone, "one", Date.now() - 1_000);
    userMessage(phone, "two", Date.now());
    await waitFor(async () => (await sdk.getSubject(subject).catch(() => null))?.messageCount === 2, {
      what: "stored",
    });
    expect((await sdk.getSubject(subject)).unread).toEqual({ user: 0, business: 2 });

    const marked = await sdk.markRead(subject, first.ts);
    expect(marked.reads.business).toBe(first.ts);
    expect(marked.unread.business).toBe(1);
    const all = await sdk.markRead(subject);
    expect(all.unread.business).toBe(0);
    const back = await sdk.markRead(subject, first.ts);
    expect(back.reads.business).toBe(all.reads.business);
    await waitFor(() => readsOf(phone.doc).get(BUSINESS_READ_KEY)?.ts === all.reads.business, {
      what: "client sees it",
    });

    const reply = await sdk.postMessage(subject, { text: "answer" });
    expect((await sdk.getSubject(subject)).unread.user).toBe(1);
    await waitFor(() => listMessages(phone.doc).some((m) => m.id === reply.message.id), { what: "reply arrived" });
    readsOf(phone.doc).set(phone.clientId, { ts: reply.message.ts });
    await waitFor(async () => (await sdk.getSubject(subject)).reads.user === reply.message.ts, { what: "user read" });
    expect((await sdk.getSubject(subject)).unread).toEqual({ user: 0, business: 0 });
  });

  it("shows typing both ways through presence, without storing it", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const phone = await userProvider(relay, "fay");
    const subject: SubjectRef = { kind: "user", id: "fay" };
    userMessage(phone, "hello");
    await waitFor(async () => (await sdk.getSubject(subject).catch(() => null))?.messageCount === 1, {
      what: "stored",
    });
    const businessTyping = () =>
      [...phone.provider.awareness.getStates().values()].some(
        (state) => (state as { typing?: { role?: string } }).typing?.role === "business",
      );
    const started = await sdk.setTyping(subject);
    expect(started.typing).toBe(true);
    expect(started.until).toBeGreaterThan(Date.now());
    await waitFor(businessTyping, { what: "client sees the business typing" });
    expect((await sdk.setTyping(subject, false)).typing).toBe(false);
    await waitFor(() => !businessTyping(), { what: "typing cleared" });

    phone.provider.awareness.setLocalStateField("typing", true);
    await waitFor(async () => (await sdk.getSubject(subject)).userTyping, { what: "business sees the user typing" });
    phone.provider.awareness.setLocalStateField("typing", false);
    await waitFor(async () => !(await sdk.getSubject(subject)).userTyping, { what: "user stopped typing" });
    expect((await sdk.listMessages(subject)).messages).toHaveLength(1);
  });

  it("lists users and anonymous users by newest activity, with profiles and clients, and answers anonymous users", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const created = await sdk.upsertUser("gus", { givenName: "Gus", properties: { plan: "pro" } });
    expect(created.created).toBe(true);
    expect(created.user.profile).toEqual({ givenName: "Gus", properties: { plan: "pro" } });
    expect((await sdk.upsertUser("gus", { email: "gus@example.com" })).created).toBe(false);

    const phone = await userProvider(relay, "hana");
    userMessage(phone, "hi from hana");
    const anonymousSecret = createSecret();
    const anonymousId = anonymousIdFromSecret(anonymousSecret);
    const visitor = openProvider(
      relay,
      roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousId }),
      anonymousToken(anonymousSecret),
    );
    providers.push(visitor);
    await waitFor(() => visitor.provider.synced, { what: "visitor synced" });
    // Clearly newest, whatever the clock resolution.
    userMessage(visitor, "anonymous question", Date.now() + 1_000);
    const anonymous: SubjectRef = { kind: "anonymous", id: anonymousId };
    await waitFor(async () => (await sdk.getSubject(anonymous).catch(() => null))?.messageCount === 1, {
      what: "applied",
    });
    // Listing reads storage: the anonymous room's first write (its claim, then the append) may still be under way.
    await waitFor(
      async () => (await sdk.listConversations({ kind: "anonymous" })).users.some((u) => u.id === anonymousId),
      { what: "stored" },
    );

    const first = await sdk.listConversations({ limit: 2 });
    expect(first.users.map((u) => [u.kind, u.id])).toEqual([
      ["anonymous", anonymousId],
      ["user", "hana"],
    ]);
    expect(first.users[0]?.lastMessage?.text).toBe("anonymous question");
    expect(first.nextCursor).not.toBeNull();
    const second = await sdk.listConversations({ limit: 2, cursor: first.nextCursor ?? "" });
    expect(second.users.map((u) => u.id)).toEqual(["gus"]);
    expect(second.nextCursor).toBeNull();
    expect((await sdk.listConversations({ kind: "anonymous" })).users.map((u) => u.id)).toEqual([anonymousId]);

    const gus = await sdk.getSubject({ kind: "user", id: "gus" });
    expect(gus.profile).toEqual({ givenName: "Gus", email: "gus@example.com", properties: { plan: "pro" } });
    const hana = await sdk.getSubject({ kind: "user", id: "hana" });
    expect(hana.clients.map((c) => c.id)).toEqual([phone.clientId]);
    expect(hana.clients[0]?.active).toBe(true);

    const reply = await sdk.postMessage(anonymous, { text: "we can help before you sign up" });
    await waitFor(() => listMessages(visitor.doc).some((m) => m.id === reply.message.id), {
      what: "visitor got reply",
    });

    // The list follows later changes (it caches summaries between calls): hana writes again and moves up.
    userMessage(phone, "hana again", Date.now() + 5_000);
    await waitFor(
      async () => (await sdk.listConversations({ limit: 1 })).users[0]?.lastMessage?.text === "hana again",
      {
        what: "list reflects the new message",
      },
    );
    expect((await sdk.listConversations()).users.map((u) => u.id)).toEqual(["hana", anonymousId, "gus"]);
  });

  it("keeps logged-out and merged anonymous conversations readable but refuses replies nobody could receive", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const anonymousRoom = (secret: string) =>
      roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });

    // A visitor on a shared device writes, then logs out: the device forgets it, the business does not.
    const leaverSecret = createSecret();
    const leaver = openProvider(relay, anonymousRoom(leaverSecret), anonymousToken(leaverSecret));
    providers.push(leaver);
    await waitFor(() => leaver.provider.synced, { what: "synced" });
    userMessage(leaver, "please call me back");
    const left: SubjectRef = { kind: "anonymous", id: anonymousIdFromSecret(leaverSecret) };
    await waitFor(async () => (await sdk.getSubject(left).catch(() => null))?.messageCount === 1, { what: "stored" });
    const logout = connectRaw(relay, anonymousRoom(leaverSecret), {
      token: anonymousToken(leaverSecret),
      client: leaver.clientSecret,
    });
    await logout.opened;
    logout.ws.send(new Uint8Array([MessageType.logout]));
    expect((await logout.closed).code).toBe(1000);
    const afterLogout = await sdk.getSubject(left);
    expect(afterLogout.state).toBe("loggedOut");
    expect((await sdk.listMessages(left)).messages.map((m) => m.text)).toEqual(["please call me back"]);
    const refused = await sdk.postMessage(left, { text: "hello?" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((refused as BusinessApiError).code).toBe("ERR_FORBIDDEN");
    expect((refused as BusinessApiError).status).toBe(403);

    // A visitor who signs up: the anonymous conversation points to the user, where the reply belongs.
    const joinerSecret = createSecret();
    const joiner = openProvider(relay, anonymousRoom(joinerSecret), anonymousToken(joinerSecret));
    providers.push(joiner);
    await waitFor(() => joiner.provider.synced, { what: "synced" });
    userMessage(joiner, "is there a student discount?");
    const joined: SubjectRef = { kind: "anonymous", id: anonymousIdFromSecret(joinerSecret) };
    await waitFor(async () => (await sdk.getSubject(joined).catch(() => null))?.messageCount === 1, { what: "stored" });
    const member = openProvider(
      relay,
      roomName({ appId: TEST_APP.id, kind: "user", subject: "olga" }),
      await signUserToken("olga"),
      {
        params: { merge: anonymousToken(joinerSecret) },
      },
    );
    providers.push(member);
    await waitFor(() => member.provider.synced, { what: "merged login synced" });
    const merged = await sdk.getSubject(joined);
    expect(merged).toMatchObject({ state: "merged", mergedInto: "olga" });
    expect(
      (await sdk.setTyping(joined).then(
        () => null,
        (e: unknown) => e,
      )) as BusinessApiError,
    ).toMatchObject({
      code: "ERR_FORBIDDEN",
    });
    const olga = await sdk.getSubject({ kind: "user", id: "olga" });
    expect(olga.merged).toEqual([joined.id]);
    expect(olga.lastMessage?.text).toBe("is there a student discount?");
    const reply = await sdk.postMessage({ kind: "user", id: "olga" }, { text: "yes, 20 %" });
    await waitFor(() => listMessages(member.doc).some((m) => m.id === reply.message.id), { what: "reply arrived" });
  });
});
