import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  clientIdFromSecret,
  clientsOf,
  createSecret,
  listMessages,
  MessageType,
  messagesOf,
  metaOf,
  roomName,
} from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectRaw,
  openProvider,
  type RelayHandle,
  signUserToken,
  startRelay,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
const anonymousRoom = (secret: string) =>
  roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });

function say(client: TestProvider, id: string, text = id): void {
  messagesOf(client.doc).push([{ id, role: "user", client: client.clientId, text, ts: Date.now() }]);
}

describe("anonymous users, logout and login merge", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay.stop();
  });

  /** Writes messages as a fresh anonymous user and waits until a second connection reads them back. */
  async function anonymousWith(ids: string[]): Promise<{ secret: string; writer: TestProvider }> {
    const secret = createSecret();
    const writer = openProvider(relay, anonymousRoom(secret), anonymousToken(secret));
    await waitFor(() => writer.provider.synced);
    for (const id of ids) say(writer, id);
    const reader = openProvider(relay, anonymousRoom(secret), anonymousToken(secret));
    try {
      await waitFor(() => listMessages(reader.doc).length === ids.length, { what: "anonymous messages stored" });
    } finally {
      reader.destroy();
    }
    return { secret, writer };
  }

  it("an anonymous secret opens its own room and syncs it between devices", async () => {
    const { secret, writer } = await anonymousWith(["anon-sync-1"]);
    const other = openProvider(relay, anonymousRoom(secret), anonymousToken(secret));
    try {
      await waitFor(() => listMessages(other.doc).length === 1);
      say(other, "anon-sync-2");
      await waitFor(() => listMessages(writer.doc).length === 2, { what: "live update between devices" });
    } finally {
      other.destroy();
      writer.destroy();
    }
  });

  it("an anonymous logout revokes the secret: the client gets 1000, others 4403, reconnects 4403", async () => {
    const { secret, writer } = await anonymousWith(["anon-logout-1"]);
    const closedOther = new Promise<number>((resolve) =>
      writer.provider.on("connection-close", (event: CloseEvent | null) => resolve(event?.code ?? 0)),
    );
    const leaving = connectRaw(relay, anonymousRoom(secret), { token: anonymousToken(secret), client: createSecret() });
    await leaving.opened;
    await waitFor(() => leaving.frames.length > 0);
    leaving.ws.send(new Uint8Array([MessageType.logout]));
    expect((await leaving.closed).code).toBe(1000);
    expect(await closedOther).toBe(CloseCode.Forbidden);
    // Closed before the revocation was written: no client holds relay-only revocation data.
    expect(metaOf(writer.doc).get("revoked")).toBeUndefined();
    writer.destroy();
    const again = connectRaw(relay, anonymousRoom(secret), { token: anonymousToken(secret), client: createSecret() });
    expect((await again.closed).code).toBe(CloseCode.Forbidden);
  });

  it("a user logout marks the client's record inactive and leaves the user's other clients alone", async () => {
    const token = await signUserToken("logout-user");
    const stays = openProvider(relay, userRoom("logout-user"), token);
    try {
      await waitFor(() => stays.provider.synced);
      const clientSecret = createSecret();
      const leaving = connectRaw(relay, userRoom("logout-user"), { token, client: clientSecret });
      await leaving.opened;
      await waitFor(() => leaving.frames.length > 0);
      leaving.ws.send(new Uint8Array([MessageType.logout]));
      expect((await leaving.closed).code).toBe(1000);
      const leftId = clientIdFromSecret(clientSecret);
      await waitFor(() => clientsOf(stays.doc).get(leftId)?.active === false, { what: "record inactive" });
      expect(stays.provider.wsconnected).toBe(true);
    } finally {
      stays.destroy();
    }
  });

  it("a login merge brings the anonymous history into the user's first sync and revokes the anonymous secret", async () => {
    const { secret, writer } = await anonymousWith(["merge-anon-1", "merge-anon-2"]);
    const anonymousClosed = new Promise<number>((resolve) =>
      writer.provider.on("connection-close", (event: CloseEvent | null) => resolve(event?.code ?? 0)),
    );
    const token = await signUserToken("merge-user");
    const user = openProvider(relay, userRoom("merge-user"), token, {
      params: { merge: anonymousToken(secret) },
    });
    try {
      await waitFor(() => user.provider.synced, { what: "user synced" });
      // Merged before the sync started: the first sync already carries the anonymous messages.
      expect(
        listMessages(user.doc)
          .map((m) => m.id)
          .sort(),
      ).toEqual(["merge-anon-1", "merge-anon-2"]);
      expect(metaOf(user.doc).get("merged")).toEqual([anonymousIdFromSecret(secret)]);
      expect(await anonymousClosed).toBe(CloseCode.Forbidden);
      expect(metaOf(writer.doc).get("revoked")).toBeUndefined();
      writer.destroy();
      const again = connectRaw(relay, anonymousRoom(secret), {
        token: anonymousToken(secret),
        client: createSecret(),
      });
      expect((await again.closed).code).toBe(CloseCode.Forbidden);

      // Repeating the merge for the same user is a no-op.
      const repeat = openProvider(relay, userRoom("merge-user"), token, { params: { merge: anonymousToken(secret) } });
      try {
        await waitFor(() => repeat.provider.synced, { what: "repeat synced" });
        expect(listMessages(repeat.doc)).toHaveLength(2);
        expect(metaOf(repeat.doc).get("merged")).toEqual([anonymousIdFromSecret(secret)]);
      } finally {
        repeat.destroy();
      }

      // Merging the same anonymous user into another user is refused, and nothing reaches that user.
      const other = connectRaw(relay, userRoom("merge-other"), {
        token: await signUserToken("merge-other"),
        client: createSecret(),
        merge: anonymousToken(secret),
      });
      expect((await other.closed).code).toBe(CloseCode.Forbidden);
      const otherReader = openProvider(relay, userRoom("merge-other"), await signUserToken("merge-other"));
      try {
        await waitFor(() => otherReader.provider.synced);
        expect(listMessages(otherReader.doc)).toEqual([]);
      } finally {
        otherReader.destroy();
      }
    } finally {
      user.destroy();
    }
  });

  it("a logged-out anonymous user cannot be merged", async () => {
    const { secret, writer } = await anonymousWith(["merge-after-logout"]);
    writer.destroy();
    const leaving = connectRaw(relay, anonymousRoom(secret), { token: anonymousToken(secret), client: createSecret() });
    await leaving.opened;
    await waitFor(() => leaving.frames.length > 0);
    leaving.ws.send(new Uint8Array([MessageType.logout]));
    expect((await leaving.closed).code).toBe(1000);
    const merge = connectRaw(relay, userRoom("merge-late"), {
      token: await signUserToken("merge-late"),
      client: createSecret(),
      merge: anonymousToken(secret),
    });
    expect((await merge.closed).code).toBe(CloseCode.Forbidden);
  });

  it("a merge survives a SIGKILL and restart of the relay", async () => {
    const { secret, writer } = await anonymousWith(["durable-merge-1"]);
    writer.destroy();
    const token = await signUserToken("durable-merge-user");
    const user = openProvider(relay, userRoom("durable-merge-user"), token, {
      params: { merge: anonymousToken(secret) },
    });
    await waitFor(() => user.provider.synced && listMessages(user.doc).length === 1);
    user.destroy();
    await relay.kill();
    await relay.restart();
    const reader = openProvider(relay, userRoom("durable-merge-user"), token);
    try {
      await waitFor(() => reader.provider.synced && listMessages(reader.doc).length === 1, {
        what: "merged after restart",
      });
    } finally {
      reader.destroy();
    }
    const anonymous = connectRaw(relay, anonymousRoom(secret), {
      token: anonymousToken(secret),
      client: createSecret(),
    });
    expect((await anonymous.closed).code).toBe(CloseCode.Forbidden);
  });
});
