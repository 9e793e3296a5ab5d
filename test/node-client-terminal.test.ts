/**
 * The terminal client (examples/node-client), built as the demo builds it and run as a process with piped
 * input against a real relay and the example app backend: every piped line is sent (the first included),
 * `/login` prints the thread once, and a message from another device prints without a pending marker.
 */
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, memoryStorage } from "@parley/client";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type AppBackend, createAppBackend } from "../examples/app-backend/src/index.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const CLIENT_DIR = fileURLToPath(new URL("../examples/node-client/", import.meta.url));
let relay: RelayHandle;
let backend: AppBackend;
let backendUrl: string;

beforeAll(async () => {
  await build({
    entry: [join(CLIENT_DIR, "src/main.ts")],
    outDir: join(CLIENT_DIR, "dist"),
    external: ["@parley/client", "@parley/protocol", "ws"],
    format: ["esm"],
    target: "es2022",
    silent: true,
    config: false,
  });
  relay = await startRelay();
  backend = createAppBackend({
    appId: TEST_APP.id,
    relayUrl: relay.url,
    key: { kid: TEST_APP.kid, secret: TEST_APP.secret },
  });
  backendUrl = (await backend.listen()).url;
}, 120_000);

afterAll(async () => {
  await backend?.close();
  await relay?.stop();
});

/** Runs the terminal client with `input` piped in; resolves with what it printed once it exits. */
async function runTerminal(input: string): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), "parley-terminal-"));
  const child = spawn(process.execPath, [join(CLIENT_DIR, "dist/main.js")], {
    env: { ...process.env, PARLEY_BACKEND_URL: backendUrl, PARLEY_DATA_DIR: dataDir },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code, output).toBe(0);
  return output;
}

describe("the terminal client", () => {
  it("sends every piped line, prints the thread once after /login, and shows another device's message as sent", async () => {
    const user = `term-${Math.random().toString(36).slice(2, 8)}`;
    const other = createClient({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      storage: memoryStorage(),
      WebSocket,
      tabSync: false,
    });
    try {
      await other.login(user, await signUserToken(user));
      await other.send("written on the phone");
      await other.flush();

      const output = await runTerminal(`first piped line\nsecond piped line\n/login ${user}\nafter login\n/quit\n`);
      const lines = output.split("\n");
      const count = (text: string) => lines.filter((line) => line.endsWith(text)).length;
      expect(output).toContain("you: first piped line");
      expect(output).toContain(`— conversation of ${user}`);
      // After /login: the merged thread once, the other device's message without a pending marker.
      expect(count("you: first piped line")).toBe(2); // once as the guest, once in the user's thread
      expect(count("you (other device): written on the phone")).toBe(1);
      expect(output).not.toMatch(/…\s*$/m);

      // Everything reached the relay: the other device sees the whole thread.
      await waitFor(() => other.messages().length === 4, { what: "the terminal's messages on the other device" });
      expect(other.messages().map((message) => message.text)).toEqual(
        expect.arrayContaining(["first piped line", "second piped line", "after login", "written on the phone"]),
      );
    } finally {
      await other.destroy();
    }
  });
});
