/**
 * Drives the web chat the way a person does — through its form fields and buttons, located by
 * `data-testid` — and reads what it shows.
 */
import type { BrowserContext, Page } from "playwright-core";
import { waitFor } from "../../support/wait.js";

const WAIT = { timeoutMs: 30_000 };

/** A message as the page shows it. */
export interface ShownMessage {
  text: string;
  status: string;
}

/**
 * Opens the shop page in a new tab of `context`, opens the chat widget from its launcher, and waits until
 * the client is ready. Page errors fail `errors()`.
 */
export async function openChat(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${url}: ${error.message}`));
  await page.goto(url);
  await openWidget(page);
  await waitUntilReady(page);
  return page;
}

/** Clicks the launcher bubble if the chat panel is closed. */
export async function openWidget(page: Page): Promise<void> {
  const launcher = await page.waitForSelector('[data-testid="launcher"]', { timeout: WAIT.timeoutMs });
  if ((await launcher.getAttribute("aria-expanded")) !== "true") await launcher.click();
  await page.waitForSelector('[data-testid="widget-panel"]', { timeout: WAIT.timeoutMs });
}

const pageErrors: string[] = [];

/** Uncaught errors pages have thrown since the last call. */
export function takeErrors(): string[] {
  return pageErrors.splice(0);
}

/** Waits until the page shows an identity (the client's `ready` resolved). */
export async function waitUntilReady(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="identity"][data-kind]', { timeout: WAIT.timeoutMs });
}

/** The messages in the thread, in display order. */
export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.$$eval('[data-testid="message"]', (nodes) =>
    nodes.map((node) => ({
      text: node.querySelector('[data-testid="message-text"]')?.textContent ?? "",
      status: (node as HTMLElement).dataset.status ?? "",
    })),
  );
}

/** The texts in the thread, in display order. */
export async function shownTexts(page: Page): Promise<string[]> {
  return (await shownMessages(page)).map((message) => message.text);
}

/** Types `text` into the message box and sends it; resolves once the page has stored it locally. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.fill('[data-testid="message-input"]', text);
  await page.click('[data-testid="send"]');
  await waitFor(() => shownTexts(page).then((texts) => texts.includes(text)), { ...WAIT, what: `"${text}" shown` });
  // The page empties the box once send() has resolved, i.e. once the message is in IndexedDB.
  await waitFor(async () => (await page.inputValue('[data-testid="message-input"]')) === "", {
    ...WAIT,
    what: `"${text}" stored locally`,
  });
}

/** Waits until the thread shows exactly `texts` in this order. */
export async function waitForTexts(page: Page, texts: string[]): Promise<void> {
  const expected = JSON.stringify(texts);
  await waitFor(async () => JSON.stringify(await shownTexts(page)) === expected, {
    ...WAIT,
    what: `thread ${expected}`,
  });
}

/** Waits until every message in the thread is marked sent (the relay stored it). */
export async function waitUntilAllSent(page: Page): Promise<void> {
  await waitFor(async () => (await shownMessages(page)).every((message) => message.status === "sent"), {
    ...WAIT,
    what: "every message sent",
  });
}

/** The identity the page shows: `anonymous` or the userId. */
export function shownIdentity(page: Page): Promise<string> {
  return page.$eval('[data-testid="identity"]', (node) => {
    const element = node as HTMLElement;
    return element.dataset.kind === "user" ? (element.dataset.userId ?? "") : "anonymous";
  });
}

/** Logs in through the login form and waits until the page shows the user. */
export async function logIn(page: Page, userId: string): Promise<void> {
  await page.fill('[data-testid="login-user-id"]', userId);
  await page.click('[data-testid="login-submit"]');
  await waitFor(async () => (await shownIdentity(page)) === userId, { ...WAIT, what: `logged in as ${userId}` });
  await waitForIdle(page);
}

/** Clicks "Log out" and waits until the page shows an anonymous identity. */
export async function logOut(page: Page): Promise<void> {
  await page.click('[data-testid="logout"]');
  await waitFor(async () => (await shownIdentity(page)) === "anonymous", { ...WAIT, what: "logged out" });
  await waitForIdle(page);
}

/** Waits until no login/logout is in flight, and fails if the page reported an error. */
async function waitForIdle(page: Page): Promise<void> {
  await waitFor(() => page.isEnabled('[data-testid="logout"]'), { ...WAIT, what: "action finished" });
  const notice = await page.$eval('[data-testid="notice"]', (node) =>
    (node as HTMLElement).hidden ? "" : node.textContent,
  );
  if (notice) throw new Error(`the page reports: ${notice}`);
}

/** Names of the IndexedDB databases the page's origin holds. */
export async function databaseNames(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await indexedDB.databases()).map((info) => info.name ?? ""));
}
