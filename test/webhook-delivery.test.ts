/**
 * Webhooks against a real relay process and a real receiver (node:http): signed deliveries, retries
 * after failures, the events a user's activity produces, and a pending delivery surviving a SIGKILL.
 */
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyWebhookSignature, type WebhookEvent } from "@parley/business";
import {
  anonymousIdFromSecret,
  anonymousToken,
  createSecret,
  type MessageRecord,
  MessageType,
  messagesOf,
  roomName,
} from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterEach, describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import {
  type ReceivedDelivery,
  startBusinessRelay,
  startReceiver,
  WEBHOOK_SECRET,
  type WebhookReceiver,
  webhookConfig,
} from "./business-support.js";
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
let receiver: WebhookReceiver | undefined;
const providers: TestProvider[] = [];

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.destroy();
  await relay?.stop();
  await receiver?.stop();
  relay = undefined;
  receiver = undefined;
});

const eventOf = (delivery: ReceivedDelivery) => JSON.parse(delivery.rawBody) as WebhookEvent;
const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

function write(provider: TestProvider, text: string): MessageRecord {
  const record: MessageRecord = {
    id: `wh-${Math.random().toString(36).slice(2, 12)}`,
    role: "user",
    client: provider.clientId,
    text,
    ts: Date.now(),
  };
  messagesOf(provider.doc).push([record]);
  return record;
}

async function connect(handle: RelayHandle, room: string, token: string): Promise<TestProvider> {
  const provider = openProvider(handle, room, token);
  providers.push(provider);
  await waitFor(() => provider.provider.synced, { what: "provider synced" });
  return provider;
}

describe("webhooks", () => {
  it("retries a delivery the receiver failed twice, with the same event and a valid signature each time", async () => {
    receiver = await startReceiver();
    let calls = 0;
    receiver.respond = () => (++calls <= 2 ? 500 : 204);
    relay = await startBusinessRelay({ webhooks: [webhookConfig(receiver.url, ["message.created"])] });
    const phone = await connect(relay, userRoom("ivy"), await signUserToken("ivy"));
    const sent = write(phone, "where is my parcel?");

    const target = receiver;
    await waitFor(() => target.received.some((d) => d.answered === 204), { what: "delivered" });
    const attempts = target.received;
    expect(attempts.map((d) => d.answered)).toEqual([500, 500, 204]);
    expect(attempts.map((d) => d.headers["parley-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(attempts.map((d) => d.rawBody)).size).toBe(1);
    expect(new Set(attempts.map((d) => d.headers["parley-event-id"])).size).toBe(1);

    const event = eventOf(attempts[2] as ReceivedDelivery);
    expect(event.type).toBe("message.created");
    expect(event.appId).toBe(TEST_APP.id);
    expect(event.id).toBe(attempts[0]?.headers["parley-event-id"]);
    if (event.type !== "message.created") throw new Error("unreachable");
    expect(event.data.subject).toEqual({ kind: "user", id: "ivy" });
    expect(event.data.message).toEqual({
      id: sent.id,
      role: "user",
      text: sent.text,
      ts: sent.ts,
      clientId: phone.clientId,
    });

    for (const delivery of attempts) {
      const header = delivery.headers["parley-signature"] as string;
      expect(verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.rawBody)).toBe(true);
      // The documented recipe, computed independently of the SDK.
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
      expect(match).not.toBeNull();
      const expected = createHmac("sha256", WEBHOOK_SECRET).update(`${match?.[1]}.${delivery.rawBody}`).digest("hex");
      expect(match?.[2]).toBe(expected);
      expect(Math.abs(Number(match?.[1]) - Date.now() / 1000)).toBeLessThan(300);
      // A wrong secret, a changed body or a stale timestamp do not verify.
      expect(verifyWebhookSignature("another-secret-0123456789-abcdefghijklmnop", header, delivery.rawBody)).toBe(
        false,
      );
      expect(verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.rawBody.replace("parcel", "parcels"))).toBe(false);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.rawBody, { now: Date.now() + 3_600_000 })).toBe(
        false,
      );
    }
  });

  it("retries a delivery whose attempt timed out", async () => {
    receiver = await startReceiver();
    let calls = 0;
    receiver.respond = () => (++calls === 1 ? "hang" : 200);
    relay = await startBusinessRelay({
      webhooks: [{ ...(webhookConfig(receiver.url, ["message.created"]) as object), timeoutMs: 300 }],
    });
    const phone = await connect(relay, userRoom("lou"), await signUserToken("lou"));
    write(phone, "hello?");
    const target = receiver;
    await waitFor(() => target.received.some((d) => d.answered === 200), { what: "delivered after a timeout" });
    expect(target.received.map((d) => d.answered)).toEqual(["hang", 200]);
    expect(target.received.map((d) => d.headers["parley-attempt"])).toEqual(["1", "2"]);
    expect(target.received[0]?.rawBody).toBe(target.received[1]?.rawBody);
    const handle = relay;
    expect(
      handle.logs.some((line) => line.includes("webhook delivery failed") && line.includes("no answer within 300 ms")),
    ).toBe(true);
  });

  it("gives a delivery up after maxAttempts and keeps it aside in webhooks/dead", async () => {
    receiver = await startReceiver();
    receiver.respond = () => 503;
    relay = await startBusinessRelay({
      webhooks: [webhookConfig(receiver.url, ["message.created"], { maxAttempts: 2 })],
    });
    const phone = await connect(relay, userRoom("max"), await signUserToken("max"));
    write(phone, "nobody listens");
    const handle = relay;
    await waitFor(() => handle.logs.some((line) => line.includes("webhook delivery given up")), { what: "given up" });
    expect(receiver.received.map((d) => d.answered)).toEqual([503, 503]);
    const outbox = join(relay.dataDir, "webhooks");
    expect(readdirSync(outbox).filter((name) => name.endsWith(".json"))).toEqual([]);
    const dead = readdirSync(join(outbox, "dead"));
    expect(dead).toHaveLength(1);
    const kept = JSON.parse(readFileSync(join(outbox, "dead", dead[0] as string), "utf8")) as { body: string };
    expect((JSON.parse(kept.body) as WebhookEvent).type).toBe("message.created");
  });

  it("reports clients added and logged out, anonymous users merged, and each user message once", async () => {
    receiver = await startReceiver();
    relay = await startBusinessRelay({
      webhooks: [webhookConfig(receiver.url, ["message.created", "user.merged", "client.added", "client.loggedOut"])],
    });
    const target = receiver;
    const events = () => target.received.filter((d) => d.answered === 200).map(eventOf);

    const anonymousSecret = createSecret();
    const anonymousId = anonymousIdFromSecret(anonymousSecret);
    const visitor = await connect(
      relay,
      roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousId }),
      anonymousToken(anonymousSecret),
    );
    const question = write(visitor, "question before signing up");
    await waitFor(() => events().some((e) => e.type === "message.created"), { what: "anonymous message event" });

    // The visitor signs up: its first connection to the user room merges the anonymous history.
    const merged = openProvider(relay, userRoom("jack"), await signUserToken("jack"), {
      clientSecret: visitor.clientSecret,
      params: { merge: anonymousToken(anonymousSecret) },
    });
    providers.push(merged);
    await waitFor(() => events().some((e) => e.type === "user.merged"), { what: "merge event" });

    // A second device logs in, syncs (a connection becomes a device of the user once the relay answered its
    // sync step 1), and then logs out.
    const tablet = connectRaw(relay, userRoom("jack"), { token: await signUserToken("jack"), client: createSecret() });
    await tablet.opened;
    const step1 = encoding.createEncoder();
    encoding.writeVarUint(step1, MessageType.sync);
    syncProtocol.writeSyncStep1(step1, new Y.Doc());
    tablet.ws.send(encoding.toUint8Array(step1));
    await waitFor(() => events().filter((e) => e.type === "client.added").length >= 3, { what: "client events" });
    tablet.ws.send(new Uint8Array([MessageType.logout]));
    expect((await tablet.closed).code).toBe(1000);
    await waitFor(() => events().some((e) => e.type === "client.loggedOut"), { what: "logout event" });

    const all = events();
    const byType = (type: WebhookEvent["type"]) => all.filter((e) => e.type === type);
    const merge = byType("user.merged")[0];
    expect(merge?.data).toEqual({ anonymousId, userId: "jack" });
    // The merged history is not reported again as new messages.
    const created = byType("message.created");
    expect(created).toHaveLength(1);
    expect(created[0]?.data).toMatchObject({
      subject: { kind: "anonymous", id: anonymousId },
      message: { id: question.id },
    });
    const added = byType("client.added").map(
      (e) => e.data as { subject: { kind: string; id: string }; client: { id: string } },
    );
    expect(added.map((d) => [d.subject.kind, d.client.id])).toEqual(
      expect.arrayContaining([
        ["anonymous", visitor.clientId],
        ["user", visitor.clientId],
        ["user", expect.any(String)],
      ]),
    );
    const loggedOut = byType("client.loggedOut")[0]?.data as {
      subject: unknown;
      client: { active: boolean; id: string };
    };
    expect(loggedOut.subject).toEqual({ kind: "user", id: "jack" });
    expect(loggedOut.client.active).toBe(false);
    expect(added.some((d) => d.client.id === loggedOut.client.id && d.subject.kind === "user")).toBe(true);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  });

  it("keeps a pending delivery through a relay SIGKILL and delivers it once the receiver is back", async () => {
    receiver = await startReceiver();
    const target = receiver;
    await target.stop();
    relay = await startBusinessRelay({ webhooks: [webhookConfig(target.url, ["message.created"])] });
    const phone = await connect(relay, userRoom("kim"), await signUserToken("kim"));
    const sent = write(phone, "sent while the app's backend is down");
    const handle = relay;
    await waitFor(() => handle.logs.some((line) => line.includes("webhook delivery failed")), {
      what: "a failed attempt",
    });
    for (const provider of providers.splice(0)) provider.destroy();

    await relay.kill();
    await relay.restart();
    expect(target.received).toEqual([]);
    await target.listen();
    await waitFor(() => target.received.some((d) => d.answered === 200), { what: "delivered after restart" });
    const delivered = target.received.filter((d) => d.answered === 200);
    const event = eventOf(delivered[0] as ReceivedDelivery);
    expect(event.type).toBe("message.created");
    expect((event.data as { message: { id: string } }).message.id).toBe(sent.id);
    expect(
      verifyWebhookSignature(
        WEBHOOK_SECRET,
        delivered[0]?.headers["parley-signature"] as string,
        delivered[0]?.rawBody ?? "",
      ),
    ).toBe(true);
    expect(relay.logs.some((line) => line.includes("webhook deliveries resumed"))).toBe(true);
  });
});
