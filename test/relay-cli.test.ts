import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clientsOf, listMessages, messagesOf, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { openProvider, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const CLI = fileURLToPath(new URL("../packages/relay/bin/parley-relay.js", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../packages/relay/relay.example.json", import.meta.url));
const RELAY_VERSION = (
  JSON.parse(readFileSync(fileURLToPath(new URL("../packages/relay/package.json", import.meta.url)), "utf8")) as {
    version: string;
  }
).version;
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

/** Runs the CLI with `args` to completion. */
function runArgs(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("parley-relay CLI", () => {
  it("prints its usage with --help, its version with --version, and refuses unknown options with the usage", async () => {
    const help = await runArgs(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: parley-relay --config <file>");
    const version = await runArgs(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(RELAY_VERSION);
    const unknown = await runArgs(["--prot", "9200"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--prot");
    expect(unknown.stderr).toContain("Usage:");
  });

  it("refuses a misspelt config key once, on stderr, naming it and what was meant", async () => {
    const run = runCli({ prot: 9200, apps: APPS });
    expect(await run.exited).toBe(1);
    const { stdout, stderr } = run.output();
    expect(stderr).toContain("config.prot");
    expect(stderr).toContain('did you mean "port"');
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stdout).toBe("");
  });

  it("starts from the commented example config", async () => {
    const example = JSON.parse(readFileSync(EXAMPLE, "utf8")) as Record<string, unknown>;
    const run = runCli({ ...example, port: 0, dataDir: join(mkdtempSync(join(tmpdir(), "parley-example-")), "d") });
    try {
      await waitFor(() => run.output().stdout.includes('"msg":"listening"'), { what: "the relay to listen" });
    } finally {
      run.child.kill("SIGTERM");
      await run.exited;
    }
  });

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
