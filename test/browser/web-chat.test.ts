/**
 * The web chat in real Chromium against a real relay process and the example app backend (issue 4).
 * Each browser context is a separate device (its own IndexedDB, no shared BroadcastChannel), so whatever
 * reaches another context went through the relay.
 */
import { roomName } from "@parley/protocol";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TEST_APP } from "../support/relay.js";
import { waitFor } from "../support/wait.js";
import {
  databaseNames,
  logIn,
  logOut,
  openChat,
  sendMessage,
  shownIdentity,
  shownMessages,
  takeErrors,
  waitForTexts,
  waitUntilAllSent,
  waitUntilReady,
} from "./support/chat-page.js";
import { startCuttableProxy } from "./support/cuttable-proxy.js";
import { startWebChatStack, type WebChatStack } from "./support/web-chat-stack.js";

let stack: WebChatStack;
const devices: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startWebChatStack();
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

afterEach(async () => {
  for (const device of devices.splice(0)) await device.close();
  expect(takeErrors()).toEqual([]);
});

/** A new device: a browser context with its own storage. */
async function newDevice(): Promise<BrowserContext> {
  const device = await stack.browser.newContext();
  devices.push(device);
  return device;
}

/** A userId no other test uses. */
function uniqueUser(name: string): string {
  return `${name}-${Math.random().toString(36).slice(2, 10)}`;
}

function identityText(page: Page): Promise<string> {
  return page.$eval('[data-testid="identity"]', (node) => node.textContent ?? "");
}

function connectionStatus(page: Page): Promise<string> {
  return page.$eval('[data-testid="connection-status"]', (node) => (node as HTMLElement).dataset.status ?? "");
}

async function waitUntilOnline(page: Page): Promise<void> {
  await waitFor(async () => (await connectionStatus(page)) === "online", { timeoutMs: 30_000, what: "online" });
}

/** Every record in the client's key-value database, as JSON. */
function storedRecords(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open("parley/~kv");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    try {
      const store = db.transaction("kv", "readonly").objectStore("kv");
      const values = await new Promise<unknown[]>((resolve, reject) => {
        const req = store.getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      return JSON.stringify(values);
    } finally {
      db.close();
    }
  });
}

const userDatabase = (userId: string) => `parley/${roomName({ appId: TEST_APP.id, kind: "user", subject: userId })}`;

describe("web chat in Chromium", () => {
  it("keeps an anonymous conversation across a reload, and a fresh browser starts empty", async () => {
    const page = await openChat(await newDevice(), stack.url);
    expect(await shownIdentity(page)).toBe("anonymous");
    await waitForTexts(page, []);
    await sendMessage(page, "hello");
    await sendMessage(page, "is anyone there?");
    await waitUntilAllSent(page);
    const identity = await identityText(page);

    // With the relay down, the reloaded page can only have its thread from this browser's IndexedDB.
    await stack.relay.stop();
    await sendMessage(page, "written while the relay is down");
    await page.reload();
    await waitUntilReady(page);
    expect(await identityText(page)).toBe(identity);
    await waitForTexts(page, ["hello", "is anyone there?", "written while the relay is down"]);
    expect((await shownMessages(page)).map((message) => message.status)).toEqual(["sent", "sent", "pending"]);

    await stack.relay.restart();
    await waitUntilAllSent(page);

    const fresh = await openChat(await newDevice(), stack.url);
    expect(await shownIdentity(fresh)).toBe("anonymous");
    expect(await identityText(fresh)).not.toBe(identity);
    await waitUntilOnline(fresh);
    await waitForTexts(fresh, []);
  });

  it("brings an anonymous conversation into the user's account, on another device too", async () => {
    const user = uniqueUser("ursula");
    const laptop = await openChat(await newDevice(), stack.url);
    await sendMessage(laptop, "asked before signing up");
    await sendMessage(laptop, "second question");
    await logIn(laptop, user);
    await waitForTexts(laptop, ["asked before signing up", "second question"]);

    const phone = await openChat(await newDevice(), stack.url);
    await logIn(phone, user);
    await waitForTexts(phone, ["asked before signing up", "second question"]);
    await sendMessage(phone, "hello from the phone");
    await waitForTexts(laptop, ["asked before signing up", "second question", "hello from the phone"]);
    await waitUntilAllSent(laptop);
  });

  it("delivers messages sent while offline once the device is back online", async () => {
    const user = uniqueUser("olga");
    const desk = await openChat(await newDevice(), stack.url);
    await logIn(desk, user);

    // The travelling device reaches the relay through a proxy that can go down (see cuttable-proxy.ts).
    const proxy = await startCuttableProxy(stack.relay.port);
    try {
      const travelDevice = await newDevice();
      await travelDevice.route("**/api/config", async (route) => {
        const response = await route.fetch();
        const config = (await response.json()) as Record<string, unknown>;
        await route.fulfill({ response, json: { ...config, relayUrl: `ws://127.0.0.1:${proxy.port}/v1` } });
      });
      const travel = await openChat(travelDevice, stack.url);
      await logIn(travel, user);
      await waitUntilOnline(travel);

      await travelDevice.setOffline(true);
      proxy.down();
      await waitFor(async () => (await connectionStatus(travel)) !== "online", { what: "the page to go offline" });
      await sendMessage(travel, "sent from the train");
      await sendMessage(travel, "still offline");
      expect((await shownMessages(travel)).map((message) => message.status)).toEqual(["pending", "pending"]);
      await waitForTexts(desk, []);

      proxy.up();
      await travelDevice.setOffline(false);
      await waitForTexts(desk, ["sent from the train", "still offline"]);
      await waitUntilAllSent(travel);
    } finally {
      await proxy.close();
    }
  });

  it("switching from one user to another shows the new user's thread and nothing of the previous one", async () => {
    const first = uniqueUser("uma");
    const second = uniqueUser("victor");
    const other = await openChat(await newDevice(), stack.url);
    await logIn(other, second);
    await sendMessage(other, "victor's own history");
    await waitUntilAllSent(other);

    const shared = await openChat(await newDevice(), stack.url);
    await logIn(shared, first);
    await sendMessage(shared, "uma's private message");
    await waitUntilAllSent(shared);
    expect(await databaseNames(shared)).toContain(userDatabase(first));

    await logIn(shared, second);
    await waitForTexts(shared, ["victor's own history"]);
    expect(await databaseNames(shared)).not.toContain(userDatabase(first));
    expect(await storedRecords(shared)).not.toContain(first);
    // Nothing crossed over: the other device still sees only the second user's thread.
    await waitForTexts(other, ["victor's own history"]);
  });

  it("logout erases the user's data, shows an empty anonymous thread, and other tabs follow without a reload", async () => {
    const user = uniqueUser("lena");
    const device = await newDevice();
    const tab = await openChat(device, stack.url);
    await logIn(tab, user);
    await sendMessage(tab, "please forget me");
    await waitUntilAllSent(tab);
    const otherTab = await openChat(device, stack.url);
    expect(await shownIdentity(otherTab)).toBe(user);
    await waitForTexts(otherTab, ["please forget me"]);
    await otherTab.evaluate(() => {
      (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
    });

    await logOut(tab);
    await waitForTexts(tab, []);
    const names = await databaseNames(tab);
    expect(names).not.toContain(userDatabase(user));
    expect(
      names.filter((name) => name.includes(roomName({ appId: TEST_APP.id, kind: "user", subject: user }))),
    ).toEqual([]);
    expect(await storedRecords(tab)).not.toContain(user);

    await waitFor(async () => (await shownIdentity(otherTab)) === "anonymous", { what: "the other tab to log out" });
    await waitForTexts(otherTab, []);
    expect(await otherTab.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(await identityText(otherTab)).toBe(await identityText(tab));
  });

  it("the app key never reaches the browser, and the backend serves nothing outside the built page", async () => {
    const device = await newDevice();
    const bodies: Promise<string>[] = [];
    device.on("response", (response) => {
      bodies.push(
        response.text().then(
          (text) => `${response.url()}\n${text}`,
          () => response.url(),
        ),
      );
    });
    const page = await openChat(device, stack.url);
    await logIn(page, uniqueUser("kim"));
    await sendMessage(page, "is my token safe?");
    await waitUntilAllSent(page);
    const seen = (await Promise.all(bodies)).join("\n");
    expect(seen).toContain("/api/login");
    expect(seen).toContain('"jwt"');
    expect(seen).not.toContain(TEST_APP.secret);

    const outside = await fetch(new URL("/%2e%2e/%2e%2e/%2e%2e/package.json", stack.url));
    const body = await outside.text();
    expect(body).toContain("<!doctype html>");
    expect(body).not.toContain('"name"');
  });
});
