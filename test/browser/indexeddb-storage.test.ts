/**
 * The IndexedDB adapter in real Chromium: what it promises in storage.ts (durable records and documents,
 * a delete that really erases and verifies), including the y-indexeddb traps from FIELD-NOTES: a database
 * held open by another tab, and a delete that must be awaited.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { browserPid, launchChromium, launchChromiumWithProfile } from "./support/chromium.js";
import { openStoragePage, type StorageFixture, serveStorageFixture } from "./support/storage-page.js";

const PREFIX = "test/";
const DOC = "app1/a/AAAAAAAAAAAAAAAAAAAAAA";

let fixture: StorageFixture;
let url: string;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  fixture = await serveStorageFixture();
  url = fixture.url;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

beforeEach(async () => {
  context = await browser.newContext();
});

afterEach(async () => {
  await context.close();
});

function openFixture(): Promise<Page> {
  return openStoragePage(context, url);
}

function databaseNames(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await indexedDB.databases()).map((info) => info.name ?? ""));
}

describe("indexedDbStorage in Chromium", () => {
  it("keeps a flushed document across a reload and lists it", async () => {
    const page = await openFixture();
    await page.evaluate(
      async ([prefix, name]) => {
        const { indexedDbStorage, Y } = window.parleyFixture;
        const doc = new Y.Doc();
        const handle = await indexedDbStorage({ prefix }).openDoc(name, doc);
        doc.getArray("messages").push(["one", "two"]);
        doc.getArray("messages").push(["three"]);
        await handle.flush();
      },
      [PREFIX, DOC] as const,
    );
    await page.reload();
    await page.waitForFunction(() => document.title === "ready");
    const after = await page.evaluate(
      async ([prefix, name]) => {
        const { indexedDbStorage, Y } = window.parleyFixture;
        const storage = indexedDbStorage({ prefix });
        const doc = new Y.Doc();
        const handle = await storage.openDoc(name, doc);
        const items = doc.getArray("messages").toArray();
        await handle.close();
        return { items, docs: await storage.listDocs() };
      },
      [PREFIX, DOC] as const,
    );
    expect(after.items).toEqual(["one", "two", "three"]);
    expect(after.docs).toEqual([DOC]);
  });

  it("keeps records across a reload and deletes them", async () => {
    const page = await openFixture();
    await page.evaluate(async (prefix) => {
      const storage = window.parleyFixture.indexedDbStorage({ prefix });
      await storage.set("identity", { kind: "anonymous", n: 1, list: [true, null] });
      await storage.set("other", "x");
      await storage.delete("other");
    }, PREFIX);
    await page.reload();
    await page.waitForFunction(() => document.title === "ready");
    const read = await page.evaluate(async (prefix) => {
      const storage = window.parleyFixture.indexedDbStorage({ prefix });
      return { identity: await storage.get("identity"), other: (await storage.get("other")) ?? "absent" };
    }, PREFIX);
    expect(read).toEqual({ identity: { kind: "anonymous", n: 1, list: [true, null] }, other: "absent" });
  });

  it("deleteDoc after close erases the database: indexedDB.databases() no longer lists it", async () => {
    const page = await openFixture();
    const result = await page.evaluate(
      async ([prefix, name]) => {
        const { indexedDbStorage, Y } = window.parleyFixture;
        const storage = indexedDbStorage({ prefix });
        const doc = new Y.Doc();
        const handle = await storage.openDoc(name, doc);
        doc.getArray("messages").push(["secret"]);
        await handle.close();
        const before = (await indexedDB.databases()).map((info) => info.name);
        await storage.deleteDoc(name);
        const after = (await indexedDB.databases()).map((info) => info.name);
        const reopened = new Y.Doc();
        const again = await storage.openDoc(name, reopened);
        const items = reopened.getArray("messages").toArray();
        await again.close();
        await storage.deleteDoc(name);
        return { before, after, items, docs: await storage.listDocs() };
      },
      [PREFIX, DOC] as const,
    );
    expect(result.before).toContain(PREFIX + DOC);
    expect(result.after).not.toContain(PREFIX + DOC);
    expect(result.items).toEqual([]);
    expect(result.docs).toEqual([]);
  });

  it("deleteDoc while another tab has the document open erases it; that tab's handle detaches and stops writing", async () => {
    const holder = await openFixture();
    await holder.evaluate(
      async ([prefix, name]) => {
        const { indexedDbStorage, Y } = window.parleyFixture;
        const doc = new Y.Doc();
        const handle = await indexedDbStorage({ prefix }).openDoc(name, doc);
        doc.getArray("messages").push(["held"]);
        await handle.flush();
        Object.assign(window, { heldDoc: doc, heldHandle: handle });
      },
      [PREFIX, DOC] as const,
    );
    const deleter = await openFixture();
    await deleter.evaluate(
      async ([prefix, name]) => window.parleyFixture.indexedDbStorage({ prefix }).deleteDoc(name),
      [PREFIX, DOC] as const,
    );
    expect(await databaseNames(deleter)).not.toContain(PREFIX + DOC);
    // The holder's document keeps working in memory, but nothing recreates the erased database, and its
    // flush says its changes are not durable.
    const after = await holder.evaluate(async () => {
      const { heldDoc, heldHandle } = window as unknown as {
        heldDoc: import("yjs").Doc;
        heldHandle: import("@parley/client").DocHandle;
      };
      heldDoc.getArray("messages").push(["after delete"]);
      const flushed = await heldHandle.flush().then(
        () => "resolved",
        (error: { code?: string }) => error.code,
      );
      await heldHandle.close();
      return { length: heldDoc.getArray("messages").length, flushed };
    });
    expect(after).toEqual({ length: 2, flushed: "ERR_STORAGE" });
    expect(await databaseNames(holder)).not.toContain(PREFIX + DOC);
  });

  it("a delete blocked by a connection that stays open fails with StorageError, and completes once it closes", async () => {
    const blocker = await openFixture();
    await blocker.evaluate(async (dbName) => {
      // A connection that ignores versionchange, as y-indexeddb's own connections used to.
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(dbName, 1);
        req.onupgradeneeded = () => req.result.createObjectStore("updates", { autoIncrement: true });
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      db.onversionchange = null;
      (window as unknown as { blocking: IDBDatabase }).blocking = db;
    }, PREFIX + DOC);
    const deleter = await openFixture();
    const outcome = await deleter.evaluate(
      async ([prefix, name]) => {
        try {
          await window.parleyFixture.indexedDbStorage({ prefix, deleteTimeoutMs: 500 }).deleteDoc(name);
          return { code: "resolved" };
        } catch (error) {
          return { code: (error as { code?: string }).code, message: (error as Error).message };
        }
      },
      [PREFIX, DOC] as const,
    );
    expect(outcome).toEqual({ code: "ERR_STORAGE", message: expect.stringContaining("still open in another tab") });
    expect(await databaseNames(deleter)).toContain(PREFIX + DOC);

    await blocker.evaluate(() => (window as unknown as { blocking: IDBDatabase }).blocking.close());
    await waitFor(async () => !(await databaseNames(deleter)).includes(PREFIX + DOC), {
      what: "the queued delete to complete",
    });
  });

  it("a flushed document survives the browser being killed", async () => {
    const profile = await mkdtemp(join(tmpdir(), "parley-chromium-profile-"));
    try {
      const first = await launchChromiumWithProfile(profile);
      const page = first.pages()[0] ?? (await first.newPage());
      await page.goto(url);
      await page.waitForFunction(() => document.title === "ready");
      await page.evaluate(
        async ([prefix, name]) => {
          const { indexedDbStorage, Y } = window.parleyFixture;
          const doc = new Y.Doc();
          const handle = await indexedDbStorage({ prefix }).openDoc(name, doc);
          // One update (and so one fire-and-forget y-indexeddb write) per item.
          for (let i = 0; i < 200; i++) doc.getArray("messages").push([i]);
          await handle.flush();
        },
        [PREFIX, DOC] as const,
      );
      const closed = new Promise((resolve) => first.once("close", resolve));
      process.kill(browserPid(profile), "SIGKILL");
      await closed;

      const second = await launchChromiumWithProfile(profile);
      try {
        const again = second.pages()[0] ?? (await second.newPage());
        await again.goto(url);
        await again.waitForFunction(() => document.title === "ready");
        const items = await again.evaluate(
          async ([prefix, name]) => {
            const { indexedDbStorage, Y } = window.parleyFixture;
            const doc = new Y.Doc();
            const handle = await indexedDbStorage({ prefix }).openDoc(name, doc);
            await handle.close();
            return doc.getArray("messages").toArray();
          },
          [PREFIX, DOC] as const,
        );
        expect(items).toEqual(Array.from({ length: 200 }, (_, i) => i));
      } finally {
        await second.close();
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });
});
