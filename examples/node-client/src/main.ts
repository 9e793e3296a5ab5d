#!/usr/bin/env node
/**
 * A terminal chat on @parley/client: the same conversation as the web chat, kept in a directory so it
 * survives restarts and works offline. Type a line to send it; commands start with `/` (see /help).
 *
 *   PARLEY_BACKEND_URL   the example app backend (default http://127.0.0.1:3000): it tells the relay URL
 *                        and app id, and signs the tokens for /login
 *   PARLEY_DATA_DIR      where this client keeps its data (default ./.data/node-client)
 *
 * Works with piped input too (`printf 'hi\n/quit\n' | node dist/main.js`): every line is read, and unsent
 * messages are flushed before it exits.
 */
import { createInterface } from "node:readline/promises";
import { type ConversationMessage, createClient, UnsentChangesError } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import WebSocket from "ws";

const backendUrl = process.env.PARLEY_BACKEND_URL ?? "http://127.0.0.1:3000";
const dataDir = process.env.PARLEY_DATA_DIR ?? ".data/node-client";

const HELP = `commands:
  /login <userId>   log in (the backend signs a token; demo only)
  /logout           log out and start over as a new anonymous user
  /name <given>     set your given name
  /clients          list this user's clients
  /quit             leave (the conversation stays on disk)`;

async function backend(path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, backendUrl), {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(String(json.error ?? `${path} answered ${response.status}`));
  return json;
}

async function fetchToken(userId: string): Promise<string> {
  return String((await backend("/api/login", { userId })).jwt);
}

const config = await backend("/api/config");
const client = createClient({
  appId: String(config.appId),
  relayUrl: String(config.relayUrl),
  storage: directoryStorage(dataDir),
  WebSocket,
  clientInfo: { platform: "node", appVersion: "0.1.0" },
  onTokenExpired: fetchToken,
});
const rl = createInterface({ input: process.stdin, output: process.stdout });
// Taken at once: lines that arrive while the client loads (piped input) wait in the iterator, not lost.
const lines = rl[Symbol.asyncIterator]();

/** A person at a terminal, rather than piped input or output: only then is there a prompt to redraw. */
const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;

/** Prints above the prompt without mangling what the user is typing. */
function print(line: string): void {
  if (!interactive) {
    process.stdout.write(`${line}\n`);
    return;
  }
  process.stdout.write(`\r\x1b[K${line}\n`);
  rl.prompt(true);
}

function showPrompt(): void {
  rl.setPrompt(prompt());
  if (interactive) rl.prompt(true);
}

function who(): string {
  const identity = client.identity;
  return identity.kind === "anonymous" ? "anonymous" : identity.userId;
}

/** The prompt names the user and how many of their messages the relay has not stored yet. */
function prompt(): string {
  const unsent = client.messages().filter((message) => message.status === "pending").length;
  return `${who()}${unsent > 0 ? ` (${unsent} unsent)` : ""}> `;
}

function format(message: ConversationMessage): string {
  const time = new Date(message.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const from =
    message.role === "business" ? (message.author?.name ?? "support") : message.mine ? "you" : "you (other device)";
  return `[${time}] ${from}: ${message.text}`;
}

// Each message is printed once, when it first appears; whether it is sent shows in the prompt, which
// changes in place. A new identity (login, logout, another tab) starts a new thread with a heading.
const printed = new Set<string>();
let shownSubject = "";
function printNewMessages(): void {
  const identity = client.identity;
  const subject = identity.kind === "anonymous" ? `a:${identity.anonymousId}` : `u:${identity.userId}`;
  if (subject !== shownSubject) {
    shownSubject = subject;
    printed.clear();
    print(`— conversation of ${who()} (${client.status}) —`);
  }
  for (const message of client.messages()) {
    if (printed.has(message.id)) continue;
    printed.add(message.id);
    print(format(message));
  }
}

async function withUnsentCheck(run: (discardUnsent: boolean) => Promise<unknown>): Promise<void> {
  try {
    await run(false);
  } catch (error) {
    if (!(error instanceof UnsentChangesError)) throw error;
    const answer = await rl.question(`${error.messageIds.length} message(s) not stored yet. Discard them? [y/N] `);
    if (answer.trim().toLowerCase() === "y") await run(true);
  }
}

async function command(line: string): Promise<boolean> {
  const [name, ...rest] = line.slice(1).split(" ");
  const argument = rest.join(" ").trim();
  switch (name) {
    case "login": {
      if (!argument) {
        print("usage: /login <userId>");
        return true;
      }
      const jwt = await fetchToken(argument);
      await withUnsentCheck((discardUnsent) => client.login(argument, jwt, { discardUnsent }));
      printNewMessages();
      return true;
    }
    case "logout":
      await withUnsentCheck((discardUnsent) => client.logout({ discardUnsent }));
      printNewMessages();
      return true;
    case "name":
      await client.setProfile({ givenName: argument || null });
      print(`given name: ${argument || "(cleared)"}`);
      return true;
    case "clients":
      for (const record of client.clients()) {
        const self = record.id === client.clientId ? " (this one)" : "";
        print(`${record.platform} ${record.appVersion ?? ""}${self} · ${record.active ? "active" : "logged out"}`);
      }
      return true;
    case "quit":
      return false;
    default:
      print(HELP);
      return true;
  }
}

await client.ready;
client.on("messages", () => {
  printNewMessages();
  showPrompt();
});
client.on("status", (status) => print(`(${status})`));
client.on("error", (error) => print(`error: ${error.message}`));
printNewMessages();
showPrompt();

for (let next = await lines.next(); !next.done; next = await lines.next()) {
  const text = next.value.trim();
  try {
    if (text.startsWith("/")) {
      if (!(await command(text))) break;
    } else if (text) {
      await client.send(text);
    }
  } catch (error) {
    print(`error: ${error instanceof Error ? error.message : String(error)}`);
  }
  showPrompt();
}
rl.close();
try {
  await client.flush();
} catch (error) {
  if (!(error instanceof UnsentChangesError)) throw error;
  console.log(`${error.messageIds.length} message(s) not sent yet: they stay in ${dataDir} and go out next time.`);
}
await client.destroy();
