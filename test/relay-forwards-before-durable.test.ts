/**
 * The write path's crash problem, proved by killing a relay between forwarding a change and storing it: the relay
 * forwards at once (attested), so a reader holds what the relay then lost. The relay below stores nothing after
 * a flag file appears (the un-synced tail, written nowhere) and is SIGKILLed; a stock relay restarted on the same
 * data directory must take the change back from the reader — the writer never comes back — with no refusal,
 * nothing acknowledged lost, and every client converging. A stock y-websocket reader never sees the change
 * before it is durable, so it never holds what the relay lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ParleyError } from "@parley/client";
import { listMessages, roomName } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { openProvider, signUserToken, TEST_APP, TEST_APPS } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const FIXTURE = fileURLToPath(new URL("./support/stalling-relay.mjs", import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts the stalling relay; resolves once it listens. */
function startStallingRelay(port: number, dataDir: string, flag: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [FIXTURE, String(port), dataDir, flag], {
    env: { ...process.env, PARLEY_TEST_APPS: JSON.stringify(TEST_APPS) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes('"listening"')) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`stalling relay exited (${code}) before listening: ${stderr}`)));
  });
}

async function sigkill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describe("forwarding before the disk", () => {
  const fixture = useClientFixture();
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await sigkill(child);
  });

  /** A stalling relay on a fresh data directory (killed after the test), and `userId`'s room and token on it. */
  async function stallingRun(userId: string) {
    const work = mkdtempSync(join(tmpdir(), "parley-forward-"));
    const dataDir = join(work, "data");
    const flag = join(work, "lose-the-tail");
    const port = await freePort();
    const stalling = await startStallingRelay(port, dataDir, flag);
    children.push(stalling);
    const relayUrl = `ws://127.0.0.1:${port}/v1`;
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: userId });
    return { dataDir, flag, port, stalling, relayUrl, room, token: await signUserToken(userId) };
  }

  it("a relay killed after forwarding what it never stored takes it back from a reader; its writer never returns", async () => {
    const userId = "forward-before-durable";
    const { dataDir, flag, port, stalling, relayUrl, room, token } = await stallingRun(userId);

    const writer = fixture.client({ relayUrl });
    const reader = fixture.client({ relayUrl });
    const errors: ParleyError[] = [];
    reader.on("error", (error) => errors.push(error));
    await writer.login(userId, token);
    await reader.login(userId, token);
    await writer.send("stored before the crash");
    await writer.flush();
    await waitFor(() => reader.messages().length === 1, { what: "the stored message on the reader" });
    const stock = openProvider({ url: relayUrl }, room, token);
    await waitFor(() => listMessages(stock.doc).length === 1, { what: "the stock reader's sync" });

    // From here the relay stores nothing: what it forwards now exists only on the clients.
    writeFileSync(flag, "");
    const lost = await writer.send("forwarded, never stored");
    await waitFor(() => reader.messages().some((m) => m.id === lost.id), { what: "the change forwarded at once" });
    expect(writer.messages().find((m) => m.id === lost.id)?.status).toBe("pending");
    // Never durable, so never forwarded to a client that could not hand it back.
    expect(listMessages(stock.doc).map((m) => m.id)).not.toContain(lost.id);

    await writer.destroy(); // the writer never comes back
    await sigkill(stalling);
    rmSync(flag);
    const relay = await fixture.startRelay({ dataDir, port });

    // The reader reconnects, hands the change back before its step 2, and the relay stores it.
    await waitFor(async () => listMessages(await readRelayDoc(relay, room, token)).some((m) => m.id === lost.id), {
      what: "the lost change stored again, from the reader",
    });
    await waitFor(() => listMessages(stock.doc).some((m) => m.id === lost.id), { what: "the stock reader's copy" });
    const fresh = fixture.client();
    await fresh.login(userId, token);
    const ids = fresh.messages().map((m) => m.id);
    expect(ids.filter((id) => id === lost.id)).toHaveLength(1);
    expect(reader.messages().map((m) => m.id)).toEqual(ids);
    expect(listMessages(stock.doc).map((m) => m.id)).toEqual(ids);
    expect(reader.status).toBe("online");
    expect(errors).toEqual([]);
    stock.destroy();
  });

  it("a reply to a lost message, handed back by the asker (the replier never returns), is taken: Yjs parks it until the asker's step 2 brings the question", async () => {
    const userId = "forward-reply-before-durable";
    const { dataDir, flag, port, stalling, relayUrl, room, token } = await stallingRun(userId);

    const asker = fixture.client({ relayUrl });
    const replier = fixture.client({ relayUrl });
    const errors: ParleyError[] = [];
    asker.on("error", (error) => errors.push(error));
    await asker.login(userId, token);
    await replier.login(userId, token);
    await asker.send("stored before the crash");
    await asker.flush();
    await waitFor(() => replier.messages().length === 1, { what: "the stored message on the replier" });

    writeFileSync(flag, "");
    const question = await asker.send("question, never stored");
    await waitFor(() => replier.messages().some((m) => m.id === question.id), { what: "the question forwarded" });
    // The answer's Yjs origin is the question: the relay that lost both can integrate it only after the question.
    const answer = await replier.send("answer, never stored");
    await waitFor(() => asker.messages().some((m) => m.id === answer.id), { what: "the answer forwarded" });

    await replier.destroy(); // the replier never comes back
    await sigkill(stalling);
    rmSync(flag);
    const relay = await fixture.startRelay({ dataDir, port });

    // The asker hands the answer back (parked: the question is missing), then its step 2 brings the question and
    // carries the answer again: the same structs, not the asker writing as the replier.
    await waitFor(
      async () => {
        const ids = listMessages(await readRelayDoc(relay, room, token)).map((m) => m.id);
        return ids.includes(question.id) && ids.includes(answer.id);
      },
      { what: "the question and its answer stored again, from the asker" },
    );
    const fresh = fixture.client();
    await fresh.login(userId, token);
    const ids = fresh.messages().map((m) => m.id);
    expect(ids.filter((id) => id === answer.id)).toHaveLength(1);
    expect(asker.messages().map((m) => m.id)).toEqual(ids);
    await waitFor(() => asker.messages().find((m) => m.id === question.id)?.status === "sent", {
      what: "the question acknowledged",
    });
    expect(asker.status).toBe("online");
    expect(errors).toEqual([]);
  });
});
