/**
 * Runs a {@link Schedule} against a real relay process and real clients (each behind its own cuttable
 * proxy, each on its own directory or memory store), checks isolation after every step and the
 * {@link ScheduleModel}'s invariants once everything settled. Returns the problems found (empty when the
 * schedule passed) and the log of what happened, for a failure report.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientStorage,
  createClient,
  type Identity,
  memoryStorage,
  type ParleyClient,
  ParleyError,
} from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { roomName } from "@parley/protocol";
import WebSocket from "ws";
import { type CuttableProxy, startCuttableProxy } from "../cuttable-proxy.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "../relay.js";
import { waitFor } from "../wait.js";
import { type ClientView, ScheduleModel, type Thread, threadOf } from "./model.js";
import { describeStep, type Schedule, type Step } from "./schedule.js";

interface Slot {
  name: string;
  storage: ClientStorage;
  /** The directory of a directory store (searched for leftovers after a logout). */
  dir: string | undefined;
  proxy: CuttableProxy;
  client: ParleyClient;
  /** Anonymous threads this slot merged into a user (confirmed when that login is accepted). */
  merged: Set<Thread>;
  /** Rooms of threads this slot left: nothing may name them once pending logout notices are delivered. */
  left: Set<string>;
}

/** What a run found. */
export interface ScheduleResult {
  problems: string[];
  log: string[];
}

const SETTLE_TIMEOUT_MS = 45_000;
/**
 * The record of logouts the relay has not heard of yet (room, credential, client secret; nothing of the
 * conversation). It may name a room the client left until the relay is reachable again.
 */
const LOGOUT_NOTICES_FILE = `${Buffer.from(`logout-notices/${TEST_APP.id}`).toString("base64url")}.json`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function roomOfThread(thread: Thread): string {
  const [kind, subject] = [thread.slice(0, thread.indexOf(":")), thread.slice(thread.indexOf(":") + 1)];
  return roomName({ appId: TEST_APP.id, kind: kind === "user" ? "user" : "anonymous", subject });
}

function filesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...filesUnder(path));
    else files.push(path);
  }
  return files;
}

class Run {
  readonly model = new ScheduleModel();
  readonly problems: string[] = [];
  readonly log: string[] = [];
  private readonly slots: Slot[] = [];
  private written = 0;
  private readonly work = mkdtempSync(join(tmpdir(), "parley-schedule-"));

  constructor(
    private readonly schedule: Schedule,
    private readonly relay: RelayHandle,
  ) {}

  async start(): Promise<void> {
    for (const [index, kind] of this.schedule.stores.entries()) {
      const dir = kind === "directory" ? join(this.work, `c${index}`) : undefined;
      const storage = dir === undefined ? memoryStorage() : directoryStorage(dir);
      const proxy = await startCuttableProxy(() => this.relay.port);
      const name = `c${index}`;
      const slot: Slot = {
        name,
        storage,
        dir,
        proxy,
        client: this.open(name, storage, proxy),
        merged: new Set(),
        left: new Set(),
      };
      this.slots.push(slot);
      await slot.client.ready;
    }
  }

  private open(name: string, storage: ClientStorage, proxy: CuttableProxy): ParleyClient {
    const client = createClient({
      appId: TEST_APP.id,
      relayUrl: proxy.url,
      storage,
      WebSocket,
      tabSync: false,
      loginTimeoutMs: 400,
      flushTimeoutMs: 600,
      clientInfo: { platform: "schedule" },
      onTokenExpired: (userId) => signUserToken(userId),
    });
    client.on("error", (error) => this.log.push(`  ${name} error event: ${error.code} ${error.message}`));
    return client;
  }

  async step(step: Step): Promise<void> {
    this.log.push(describeStep(step, this.schedule.users));
    switch (step.kind) {
      case "send":
        return this.send(this.slots[step.client]!);
      case "wait":
        await sleep(step.ms);
        return;
      case "cut":
        return this.slots[step.client]!.proxy.cut();
      case "heal":
        return this.slots[step.client]!.proxy.heal();
      case "login":
        return this.login(this.slots[step.client]!, this.schedule.users[step.user]!, step.discardUnsent);
      case "logout":
        return this.logout(this.slots[step.client]!, step.discardUnsent);
      case "restart-client": {
        const slot = this.slots[step.client]!;
        await slot.client.destroy();
        slot.client = this.open(slot.name, slot.storage, slot.proxy);
        await slot.client.ready;
        return;
      }
      case "kill-relay":
        await this.relay.kill();
        await sleep(step.downMs);
        await this.relay.restart();
        return;
    }
  }

  /** After every step: record what is reported sent, confirm accepted merges, check isolation. */
  observe(): void {
    for (const slot of this.slots) {
      const view = this.view(slot);
      for (const message of view.messages)
        if (message.status === "sent") this.model.recordSent(view.thread, message.id);
      const identity = slot.client.identity;
      if (identity.kind === "user" && identity.authenticated) this.model.confirmMerges(view.thread, slot.merged);
      this.problems.push(...this.model.checkIsolation(view));
    }
  }

  /** Heals every link, waits until every client stored everything and the clients of each thread agree. */
  async settle(): Promise<void> {
    this.log.push("settle");
    for (const slot of this.slots) slot.proxy.heal();
    try {
      await waitFor(
        () =>
          this.slots.every(
            (s) => s.client.status === "online" && s.client.messages().every((m) => m.status === "sent"),
          ),
        { timeoutMs: SETTLE_TIMEOUT_MS, what: "every client online with everything sent" },
      );
      this.observe();
      await waitFor(() => this.model.checkSettled(this.slots.map((s) => this.view(s))).length === 0, {
        timeoutMs: 5_000,
        what: "the invariants to hold",
      });
      // Pending logout notices go out once the relay is reachable (their retry backs off up to 30 s).
      await waitFor(() => this.slots.every((s) => this.leftovers(s, s.left, { allowNotices: false }).length === 0), {
        timeoutMs: 40_000,
        what: "pending logout notices to be delivered",
      });
    } catch (error) {
      this.log.push(`  ${String(error)}`);
      for (const slot of this.slots) {
        this.log.push(`  ${slot.name}: ${slot.client.status} ${JSON.stringify(this.view(slot))}`);
      }
      const notable = this.relay.logs.filter((line) => /"level":"(warn|error)"|refused/.test(line));
      this.log.push(...notable.slice(-20).map((line) => `  relay: ${line}`));
    }
    this.observe();
    this.problems.push(...this.model.checkSettled(this.slots.map((s) => this.view(s))));
    for (const slot of this.slots) this.problems.push(...this.leftovers(slot, slot.left, { allowNotices: false }));
  }

  async close(): Promise<void> {
    for (const slot of this.slots) {
      await slot.client.destroy().catch(() => {});
      await slot.proxy.close();
    }
    rmSync(this.work, { recursive: true, force: true });
  }

  private view(slot: Slot): ClientView {
    return {
      name: slot.name,
      thread: threadOf(slot.client.identity),
      messages: slot.client.messages().map(({ id, status }) => ({ id, status })),
    };
  }

  private async send(slot: Slot): Promise<void> {
    const text = `m${this.schedule.seed}x${String(this.written++).padStart(4, "0")}z`;
    const thread = threadOf(slot.client.identity);
    const message = await slot.client.send(text);
    this.model.recordWrite(thread, { id: message.id, text });
    this.log.push(`  ${slot.name} wrote ${message.id} in ${thread}`);
  }

  private async login(slot: Slot, userId: string, discardUnsent: boolean): Promise<void> {
    const before = this.view(slot);
    const previous: Identity = slot.client.identity;
    const target = `user:${userId}`;
    try {
      const { authenticated } = await slot.client.login(userId, await signUserToken(userId), { discardUnsent });
      this.log.push(`  ${slot.name} is ${target} (authenticated: ${authenticated})`);
      slot.left.delete(roomOfThread(target)); // back in a thread it had left: its room is in the store again
      if (previous.kind === "anonymous") {
        this.model.recordMerge(before.thread, target, authenticated);
        slot.merged.add(before.thread);
      } else if (before.thread !== target) {
        await this.leftThread(slot, before, discardUnsent);
      }
    } catch (error) {
      await this.refused(slot, before, "login", error);
    }
  }

  private async logout(slot: Slot, discardUnsent: boolean): Promise<void> {
    const before = this.view(slot);
    try {
      await slot.client.logout({ discardUnsent });
      this.log.push(`  ${slot.name} logged out of ${before.thread}`);
      await this.leftThread(slot, before, discardUnsent);
    } catch (error) {
      await this.refused(slot, before, "logout", error);
    }
  }

  /**
   * A logout or switch succeeded: without `discardUnsent` everything shown was flushed (so it counts as
   * sent), and nothing of the thread left may remain in the store — its files, not only its API.
   */
  private async leftThread(slot: Slot, before: ClientView, discardUnsent: boolean): Promise<void> {
    if (!discardUnsent) for (const { id } of before.messages) this.model.recordSent(before.thread, id);
    const rooms = [...this.model.sources(before.thread)].map(roomOfThread);
    for (const room of rooms) slot.left.add(room);
    const docs = await slot.storage.listDocs();
    for (const room of rooms) {
      if (docs.includes(room))
        this.problems.push(`${slot.name}: store still lists ${room} after leaving ${before.thread}`);
    }
    if (slot.dir === undefined) return;
    const texts = this.model.textsOf(before.thread);
    for (const file of filesUnder(slot.dir)) {
      const bytes = readFileSync(file);
      for (const text of texts) {
        if (bytes.includes(text)) this.problems.push(`${slot.name}: ${file} still holds "${text}" of ${before.thread}`);
      }
    }
    this.problems.push(...this.leftovers(slot, rooms, { allowNotices: true }));
  }

  /** Files of `slot`'s store that name one of `rooms` (by content or file name). */
  private leftovers(slot: Slot, rooms: Iterable<string>, { allowNotices }: { allowNotices: boolean }): string[] {
    if (slot.dir === undefined) return [];
    const problems: string[] = [];
    for (const file of filesUnder(slot.dir)) {
      if (allowNotices && file.endsWith(LOGOUT_NOTICES_FILE)) continue;
      const bytes = readFileSync(file);
      for (const room of rooms) {
        if (file.includes(Buffer.from(room).toString("base64url")) || bytes.includes(room)) {
          problems.push(`${slot.name}: ${file} still names ${room}, which it left`);
        }
      }
    }
    return problems;
  }

  /** A refused logout or login must leave the identity and every message as they were. */
  private async refused(slot: Slot, before: ClientView, what: string, error: unknown): Promise<void> {
    if (!(error instanceof ParleyError)) {
      this.problems.push(`${slot.name}: ${what} threw an untyped error: ${String(error)}`);
      return;
    }
    this.log.push(`  ${slot.name} ${what} refused: ${error.code}`);
    const after = this.view(slot);
    if (after.thread !== before.thread) {
      this.problems.push(`${slot.name}: refused ${what} changed the thread ${before.thread} → ${after.thread}`);
    }
    const shown = new Set(after.messages.map((m) => m.id));
    const lost = before.messages.filter((m) => !shown.has(m.id)).map((m) => m.id);
    if (lost.length > 0) this.problems.push(`${slot.name}: refused ${what} lost ${lost.join(", ")}`);
  }
}

/** Runs `schedule` on a fresh relay; never throws for what the clients do (that is in `problems`). */
export async function runSchedule(schedule: Schedule): Promise<ScheduleResult> {
  const relay = await startRelay();
  const run = new Run(schedule, relay);
  try {
    await run.start();
    for (const step of schedule.steps) {
      await run.step(step);
      run.observe();
    }
    await run.settle();
  } catch (error) {
    run.problems.push(`the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await run.close();
    await relay.stop().catch(() => {});
    rmSync(relay.dataDir, { recursive: true, force: true });
  }
  return { problems: [...new Set(run.problems)], log: run.log };
}
