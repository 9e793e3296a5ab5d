import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clientsOf, listMessages, messagesOf, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { openProvider, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const CLI = fileURLToPath(new URL("../packages/relay/dist/cli.js", import.meta.url));
const APPS = [{ id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] }];

/** Runs the CLI until it prints "listening" or exits; returns its output and exit code. */
function runCli(config: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "parley-cli-"));
  const file = join(dir, "relay.json");
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, "--config", file], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }), dir };
}

describe("parley-relay CLI", () => {
  it("refuses an invalid config with the path of the bad field and exit code 1", async () => {
    const run = runCli({ apps: [{ id: "app1", keys: [{ kid: "k1", alg: "HS256", secret: "short" }] }] });
    expect(await run.exited).toBe(1);
    expect(run.output().stderr).toContain("config.apps[0].keys[0].secret");
    const unknownAlg = runCli({ apps: [{ id: "app1", keys: [{ kid: "k1", alg: "none", secret: "x".repeat(40) }] }] });
    expect(await unknownAlg.exited).toBe(1);
    expect(unknownAlg.output().stderr).toContain("config.apps[0].keys[0].alg");
  });

  it("refuses to start on a data directory it cannot write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-cli-file-"));
    const file = join(dir, "a-file");
    writeFileSync(file, "not a directory");
    const run = runCli({ port: 0, dataDir: join(file, "data"), apps: APPS });
    expect(await run.exited).toBe(1);
    expect(run.output().stderr).toContain("not writable");
  });

  it("takes PARLEY_PORT and PARLEY_DATA_DIR over the file, logs one JSON listening line, exits 0 on SIGTERM", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "parley-cli-data-")), "data");
    const run = runCli(
      { port: "not a port", dataDir: "/nonexistent/ignored", apps: APPS },
      {
        PARLEY_PORT: "0",
        PARLEY_DATA_DIR: dataDir,
      },
    );
    const line = await waitFor(
      () =>
        run
          .output()
          .stdout.split("\n")
          .find((l) => l.includes('"msg":"listening"')),
      { what: "listening line" },
    );
    const entry = JSON.parse(line) as { level: string; port: number };
    expect(entry.level).toBe("info");
    expect(entry.port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${entry.port}/healthz`);
    expect(await health.json()).toEqual({ ok: true });
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: "cli-user" });
    const writer = openProvider({ url: `ws://127.0.0.1:${entry.port}/v1` }, room, await signUserToken("cli-user"));
    await waitFor(() => writer.provider.synced);
    messagesOf(writer.doc).push([
      { id: "cli-message-1", role: "user", client: writer.clientId, text: "hi", ts: Date.now() },
    ]);
    await waitFor(() => writer.provider.wsconnected);
    // Let the message reach the relay before the shutdown (the shutdown itself waits for pending writes).
    const reader = openProvider({ url: `ws://127.0.0.1:${entry.port}/v1` }, room, await signUserToken("cli-user"));
    await waitFor(() => listMessages(reader.doc).length === 1);
    reader.destroy();
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    writer.destroy();
    expect(run.output().stdout).toContain('"msg":"closed"');
    expect(run.output().stdout).not.toContain('"level":"error"');

    // The data went where PARLEY_DATA_DIR said.
    const relay = await startRelay({ dataDir });
    try {
      const check = openProvider(relay, room, await signUserToken("cli-user"));
      try {
        await waitFor(() => listMessages(check.doc).length === 1, { what: "message after restart" });
        expect(clientsOf(check.doc).get(writer.clientId)?.id).toBe(writer.clientId);
      } finally {
        check.destroy();
      }
    } finally {
      await relay.stop();
    }
  });
});
