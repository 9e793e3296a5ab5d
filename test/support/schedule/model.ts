/**
 * What a schedule's clients should show, kept from what they reported: which thread (an anonymous user or
 * a userId) each message was written in, which messages were reported `sent` in which thread, and which
 * anonymous threads were merged into which user. The invariants compare the clients' final state with it.
 */
import type { ConversationMessage, Identity } from "@parley/client";

/** A thread: `user:<userId>` or `anon:<anonymousId>`. */
export type Thread = string;

/** The thread an identity speaks for. */
export function threadOf(identity: Identity): Thread {
  return identity.kind === "user" ? `user:${identity.userId}` : `anon:${identity.anonymousId}`;
}

/** What one client shows: its thread and its messages in display order. */
export interface ClientView {
  name: string;
  thread: Thread;
  messages: Array<Pick<ConversationMessage, "id" | "status">>;
}

export class ScheduleModel {
  /** Every message written: where, and its (unique) text. */
  readonly written = new Map<string, { thread: Thread; text: string }>();
  private readonly sent = new Map<Thread, Set<string>>();
  /** Anonymous thread → the user thread it was merged into; `confirmed` once the relay accepted the login. */
  private readonly merges = new Map<Thread, { into: Thread; confirmed: boolean }>();

  recordWrite(thread: Thread, message: { id: string; text: string }): void {
    this.written.set(message.id, { thread, text: message.text });
  }

  /** A client of `thread` reported `id` as sent (or flushed it before a logout or switch). */
  recordSent(thread: Thread, id: string): void {
    let ids = this.sent.get(thread);
    if (ids === undefined) {
      ids = new Set();
      this.sent.set(thread, ids);
    }
    ids.add(id);
  }

  recordMerge(anonymous: Thread, user: Thread, confirmed: boolean): void {
    const previous = this.merges.get(anonymous);
    this.merges.set(anonymous, { into: user, confirmed: confirmed || (previous?.confirmed ?? false) });
  }

  /** The relay accepted `user`'s login on a client: the merges into it made on that client are done. */
  confirmMerges(user: Thread, anonymousThreads: Iterable<Thread>): void {
    for (const anonymous of anonymousThreads) {
      const merge = this.merges.get(anonymous);
      if (merge?.into === user) merge.confirmed = true;
    }
  }

  /** Threads whose messages may show in `thread`: itself and the anonymous threads merged into it. */
  sources(thread: Thread): Set<Thread> {
    const threads = new Set([thread]);
    for (const [anonymous, merge] of this.merges) if (merge.into === thread) threads.add(anonymous);
    return threads;
  }

  /** Messages every client of `thread` must show: reported sent there, or in a thread merged into it for sure. */
  required(thread: Thread): Set<string> {
    const ids = new Set(this.sent.get(thread) ?? []);
    for (const [anonymous, merge] of this.merges) {
      if (merge.into === thread && merge.confirmed) for (const id of this.sent.get(anonymous) ?? []) ids.add(id);
    }
    return ids;
  }

  /** The texts of every message written in `thread` or merged into it (to look for in a wiped store). */
  textsOf(thread: Thread): string[] {
    const sources = this.sources(thread);
    return [...this.written.values()].filter((m) => sources.has(m.thread)).map((m) => m.text);
  }

  /** Violations visible at any moment: a message of another thread, or one shown twice. */
  checkIsolation(view: ClientView): string[] {
    const problems: string[] = [];
    const sources = this.sources(view.thread);
    const seen = new Set<string>();
    for (const { id } of view.messages) {
      if (seen.has(id)) problems.push(`${view.name} shows ${id} twice`);
      seen.add(id);
      const origin = this.written.get(id);
      if (origin === undefined) problems.push(`${view.name} (${view.thread}) shows ${id}, which no client wrote`);
      else if (!sources.has(origin.thread)) {
        problems.push(`${view.name} (${view.thread}) shows ${id} of another thread (${origin.thread})`);
      }
    }
    return problems;
  }

  /**
   * Violations once every client settled: isolation, every required message exactly once on every client
   * of its thread, and one order for all clients of a thread.
   */
  checkSettled(views: ClientView[]): string[] {
    const problems = views.flatMap((view) => this.checkIsolation(view));
    const byThread = new Map<Thread, ClientView[]>();
    for (const view of views) byThread.set(view.thread, [...(byThread.get(view.thread) ?? []), view]);
    for (const [thread, clients] of byThread) {
      const required = this.required(thread);
      for (const view of clients) {
        const shown = new Set(view.messages.map((m) => m.id));
        for (const id of required) if (!shown.has(id)) problems.push(`${view.name} (${thread}) lost sent ${id}`);
        const pending = view.messages.filter((m) => m.status !== "sent").map((m) => m.id);
        if (pending.length > 0) problems.push(`${view.name} still has pending ${pending.join(", ")}`);
      }
      const orders = new Set(clients.map((view) => view.messages.map((m) => m.id).join(",")));
      if (orders.size > 1) {
        problems.push(
          `clients of ${thread} disagree: ${clients.map((v) => `${v.name}=[${v.messages.map((m) => m.id).join(",")}]`).join(" ")}`,
        );
      }
    }
    return problems;
  }
}
