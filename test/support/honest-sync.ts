/**
 * The check every limit test ends with: two honest stock clients of a room (separate docs, no
 * BroadcastChannel) exchange a message through the relay.
 */
import { createSecret, listMessages, messagesOf, roomName } from "@parley/protocol";
import { openProvider, type RelayHandle, signUserToken, TEST_APP } from "./relay.js";
import { waitFor } from "./wait.js";

/** The user room of `userId` in the test app. */
export function userRoom(userId: string): string {
  return roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
}

/** Resolves once a message written by one new honest client of `userId`'s room has reached another. */
export async function expectHonestSync(relay: RelayHandle, userId: string): Promise<void> {
  const token = await signUserToken(userId);
  const writer = openProvider(relay, userRoom(userId), token);
  const reader = openProvider(relay, userRoom(userId), token);
  try {
    await waitFor(() => writer.provider.synced && reader.provider.synced, {
      what: `honest clients of ${userId} synced`,
    });
    const id = `honest-${createSecret().slice(0, 12)}`;
    messagesOf(writer.doc).push([{ id, role: "user", client: writer.clientId, text: "still here", ts: Date.now() }]);
    await waitFor(() => listMessages(reader.doc).some((m) => m.id === id), {
      what: `message ${id} to reach the reader`,
    });
  } finally {
    writer.destroy();
    reader.destroy();
  }
}
