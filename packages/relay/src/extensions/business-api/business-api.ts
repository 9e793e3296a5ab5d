/**
 * The business API: HTTP JSON under `/v1/apps/<appId>/…`, authenticated with app tokens
 * (business-auth.ts). A subject is addressed as `users/<userId>` (the userId percent-encoded as one path
 * segment) or `anonymous/<anonymousId>`:
 *
 * | method | path                                   | does                                                   |
 * |--------|----------------------------------------|--------------------------------------------------------|
 * | GET    | `users[?kind=&limit=&cursor=]`         | conversations of users and anonymous users, newest activity first |
 * | GET    | `<subject>`                            | summary + profile + clients + typing                   |
 * | PUT    | `users/<userId>`                       | creates the user (or updates its profile): `{ profile? }` |
 * | GET    | `<subject>/messages[?before=&limit=]`  | messages, newest page first, each page oldest-first    |
 * | POST   | `<subject>/messages`                   | business message `{ text, metadata?, author?, id? }`, stored before 201 |
 * | POST   | `users/<userId>/messages:import`       | history `{ messages: [{ id, role, text, ts, author?, metadata? }] }` |
 * | POST   | `<subject>/read`                       | business read position `{ ts? }` (default: newest)     |
 * | POST   | `<subject>/typing`                     | `{ typing?: boolean }`: relay presence for 5 s, never stored |
 * | DELETE | `<subject>`                            | erases the conversation (a user's also erases the anonymous ones merged into it), 204 |
 *
 * Every write goes through `room.transactAsRelay`, so it reaches connected clients live and is durable
 * before the answer. Errors are `{ error: { code, message } }` with the protocol's error codes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  assertDerivedId,
  assertUserId,
  ErrorCode,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  ParleyError,
  type RoomRef,
  roomName,
  TYPING_INDICATOR_MS,
  type TypingIndicator,
} from "@parley/protocol";
import type { RoomHandle as Room, RoomOpener } from "../../core/extension.js";
import type { Logger } from "../../core/logger.js";
import { Erasure } from "../../identity/erasure.js";
import { revocationOf } from "../../identity/revocation.js";
import { type ConversationPosition, conversationIndexOf } from "../../storage/conversation-index.js";
import type { RelayStorage } from "../../storage/storage.js";
import type { WebhooksExtension } from "../webhooks/webhooks.js";
import type { AppAuthenticator } from "./business-auth.js";
import { readJsonObject, sendError, sendJson } from "./business-http.js";
import { type ConversationList, IndexedList, ScanningList } from "./business-index.js";
import { SummaryWriter } from "./business-summaries.js";
import {
  type ConversationSummary,
  describe,
  pageOfMessages,
  subjectExists,
  summarize,
  toApiMessage,
} from "./business-view.js";
import {
  appendBusinessMessage,
  importMessages,
  markReadByBusiness,
  parseBusinessMessage,
  parseImport,
  parseProfile,
  parseReadMark,
  writeProfile,
} from "./business-writes.js";

/** URL prefix of the business API. */
export const BUSINESS_PATH_PREFIX = "/v1/apps/";

/** What the business API works with. */
export interface BusinessApiContext {
  rooms: RoomOpener;
  storage: RelayStorage;
  auth: AppAuthenticator;
  appIds: ReadonlySet<string>;
  /** Where `conversation.imported` events go; none without the webhooks extension. */
  webhooks: WebhooksExtension | undefined;
  logger: Logger;
}

interface Route {
  appId: string;
  /** The subject, or `undefined` for the list. */
  ref?: RoomRef;
  /** What follows the subject: "", "messages", "messages:import", "read", "typing". */
  action: string;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError("path", "has a malformed percent-encoding");
  }
}

function parseRoute(path: string): Route | null {
  const parts = path.slice(BUSINESS_PATH_PREFIX.length).split("/");
  const [appId, collection, subject, action = "", ...rest] = parts;
  if (appId === undefined || collection === undefined || rest.length > 0) return null;
  if (collection === "users" && subject === undefined) return { appId, action: "list" };
  if (subject === undefined || subject === "") return null;
  const id = decodeSegment(subject);
  if (collection === "users") {
    assertUserId(id, "userId");
    return { appId, ref: { appId, kind: "user", subject: id }, action };
  }
  if (collection === "anonymous") {
    assertDerivedId(id, "anonymousId");
    return { appId, ref: { appId, kind: "anonymous", subject: id }, action };
  }
  return null;
}

/**
 * The room a business API request path is about (`/v1/apps/<app>/users/<userId>…` or
 * `…/anonymous/<anonymousId>…`), or `null` for the list and for paths that name no conversation. Several relay
 * nodes use it to send a request to the node serving that room.
 */
export function businessRoomOf(path: string): string | null {
  if (!path.startsWith(BUSINESS_PATH_PREFIX)) return null;
  try {
    const ref = parseRoute(path)?.ref;
    return ref === undefined ? null : roomName(ref);
  } catch {
    return null;
  }
}

function integerParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from 1 to ${max}`);
  }
  return value;
}

/** Serves the business API. Create one per relay. */
export class BusinessApi {
  private readonly typing = new Map<string, { timer: NodeJS.Timeout; release: () => void }>();
  private readonly conversations: ConversationList;
  /** Without a conversation index in the storage: the list kept in memory, invalidated by updates. */
  private readonly scanning: ScanningList | undefined;
  /** With one: the writer of this node's rooms' entries. */
  private readonly summaries: SummaryWriter | undefined;
  private readonly erasure: Erasure;

  constructor(private readonly context: BusinessApiContext) {
    const index = conversationIndexOf(context.storage);
    if (index === undefined) {
      this.scanning = new ScanningList(context.rooms, context.storage);
      this.conversations = this.scanning;
    } else {
      this.summaries = new SummaryWriter(index, context.logger);
      this.conversations = new IndexedList(index, context.rooms, this.summaries);
    }
    this.erasure = new Erasure(context.rooms, context.storage);
  }

  /** Keeps the conversation list current with `room`'s changes. Call once for every room loaded. */
  watch(room: Room): void {
    this.scanning?.watch(room);
    this.summaries?.loaded(room);
  }

  /** The room's durable state advanced (`onStored`). */
  stored(room: Room): void {
    this.summaries?.stored(room);
  }

  /** The room is unloading (`onRoomUnloaded`). */
  unloaded(room: Room): void {
    this.summaries?.unloaded(room);
  }

  /** Whether `path` belongs to the business API. */
  static matches(path: string): boolean {
    return path.startsWith(BUSINESS_PATH_PREFIX);
  }

  /** Answers one request under {@link BUSINESS_PATH_PREFIX}. Never throws. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const url = new URL(request.url ?? "/", "http://relay");
      // Authenticated before the rest of the path is even parsed: strangers learn nothing about users.
      const appId = url.pathname.slice(BUSINESS_PATH_PREFIX.length).split("/")[0] ?? "";
      if (!this.context.appIds.has(appId)) throw new ParleyError(ErrorCode.UnknownApp, "unknown app");
      await this.context.auth.authenticate(request.headers.authorization, appId);
      const route = parseRoute(url.pathname);
      if (route === null) throw new NotFoundError(`no such endpoint: ${request.method} ${url.pathname}`);
      await this.dispatch(request, response, route, url.searchParams);
    } catch (error) {
      if (!(error instanceof ParleyError)) this.context.logger.error("business API failure", { error });
      if (!response.headersSent) sendError(response, error);
    }
  }

  /** Ends every typing indicator and waits for the conversation index writes in flight. */
  async close(): Promise<void> {
    for (const { timer, release } of this.typing.values()) {
      clearTimeout(timer);
      release();
    }
    this.typing.clear();
    await this.summaries?.close();
  }

  /** A business API write to `room` is durable: its conversation list entry is written before the answer. */
  private async written(room: Room): Promise<void> {
    await this.summaries?.flush(room);
  }

  private async dispatch(
    request: IncomingMessage,
    response: ServerResponse,
    route: Route,
    params: URLSearchParams,
  ): Promise<void> {
    const method = request.method ?? "GET";
    const { ref, action } = route;
    if (action === "list" && method === "GET") {
      return sendJson(response, 200, await this.list(route.appId, params));
    }
    if (ref === undefined) throw new NotFoundError(`no such endpoint: ${method} ${action}`);
    const endpoint = `${method} ${action}`;
    if (endpoint === "PUT " && ref.kind === "user") {
      const body = await readJsonObject(request);
      for (const key of Object.keys(body)) {
        if (key !== "profile") throw new InvalidArgumentError("body", `unexpected field "${key}"`);
      }
      const writes = parseProfile(body.profile, "profile");
      return this.withRoom(ref, false, async (room) => {
        const existed = subjectExists(room.doc);
        await room.transactAsRelay((doc) => writeProfile(doc, writes, Date.now()));
        await this.written(room);
        sendJson(response, existed ? 200 : 201, describe(ref, room.doc, room.awareness));
      });
    }
    if (endpoint === "GET ") {
      return this.withRoom(ref, true, async (room) => sendJson(response, 200, describe(ref, room.doc, room.awareness)));
    }
    if (endpoint === "DELETE ") {
      // 404 for what was never stored or is already erased; an anonymous tombstone holds no subject. A user whose
      // document holds nothing may still have a subject claimed by a merge that never reached it (erasure.ts).
      await this.withRoom(ref, !(await this.erasure.hasClaims(ref)), async () => {});
      await this.erasure.erase(ref);
      response.writeHead(204).end();
      return;
    }
    if (endpoint === "GET messages") {
      const limit = integerParam(params, "limit", 50, 200);
      return this.withRoom(ref, true, async (room) =>
        sendJson(response, 200, pageOfMessages(room.doc, params.get("before"), limit)),
      );
    }
    if (endpoint === "POST messages") {
      const input = parseBusinessMessage(await readJsonObject(request));
      return this.withRoom(ref, true, async (room) => {
        this.assertReplyable(room);
        let result: ReturnType<typeof appendBusinessMessage> | undefined;
        await room.transactAsRelay((doc) => {
          result = appendBusinessMessage(doc, input, Date.now());
        });
        if (result === undefined) throw new Error("business message not written");
        await this.written(room);
        sendJson(response, result.created ? 201 : 200, { message: toApiMessage(result.record) });
      });
    }
    if (endpoint === "POST messages:import" && ref.kind === "user") {
      const records = parseImport(await readJsonObject(request), Date.now());
      return this.withRoom(ref, false, async (room) => {
        let counts = { imported: 0, skipped: 0 };
        await room.transactAsRelay((doc) => {
          counts = importMessages(doc, records, Date.now());
        });
        await this.written(room);
        // Queued (durably) before the answer, so the app is told about every import it was told succeeded.
        await this.context.webhooks?.enqueue({
          type: "conversation.imported",
          appId: ref.appId,
          data: {
            subject: { kind: ref.kind, id: ref.subject },
            imported: counts.imported,
            skipped: counts.skipped,
            messageIds: records.map((record) => record.id),
          },
        });
        sendJson(response, 200, counts);
      });
    }
    if (endpoint === "POST read") {
      const ts = parseReadMark(await readJsonObject(request), Date.now());
      return this.withRoom(ref, true, async (room) => {
        await room.transactAsRelay((doc) => {
          markReadByBusiness(doc, ts);
        });
        await this.written(room);
        const summary: ConversationSummary = summarize(ref, room.doc);
        sendJson(response, 200, { reads: summary.reads, unread: summary.unread });
      });
    }
    if (endpoint === "POST typing") {
      const body = await readJsonObject(request);
      for (const key of Object.keys(body)) {
        if (key !== "typing") throw new InvalidArgumentError("body", `unexpected field "${key}"`);
      }
      if (body.typing !== undefined && typeof body.typing !== "boolean") {
        throw new InvalidArgumentError("typing", "must be a boolean");
      }
      return this.withRoom(ref, true, async (room) => {
        this.assertReplyable(room);
        const until = this.setTyping(room, body.typing !== false);
        sendJson(response, 200, { typing: until !== null, until });
      });
    }
    throw new NotFoundError(`no such endpoint: ${method} ${action || "(subject)"} for ${ref.kind} subjects`);
  }

  /** Runs `work` with the subject's room loaded and held; 404 if `mustExist` and nothing was ever stored. */
  private async withRoom(ref: RoomRef, mustExist: boolean, work: (room: Room) => Promise<void>): Promise<void> {
    const room = await this.context.rooms.open(roomName(ref));
    const release = room.hold();
    try {
      if (mustExist && !subjectExists(room.doc)) {
        throw new NotFoundError(`no ${ref.kind === "user" ? "user" : "anonymous user"} "${ref.subject}"`);
      }
      await work(room);
    } finally {
      release();
    }
  }

  private assertReplyable(room: Room): void {
    if (room.ref.kind !== "anonymous") return;
    const revocation = revocationOf(room.doc);
    if (revocation.mergedInto !== undefined) {
      throw new ForbiddenError(`anonymous user was merged into user "${revocation.mergedInto}"; answer there`);
    }
    if (revocation.revoked) throw new ForbiddenError("anonymous user logged out; nobody can read a reply");
  }

  /** Publishes (or clears) the business's typing state in the room's presence; returns its end or `null`. */
  private setTyping(room: Room, typing: boolean): number | null {
    const current = this.typing.get(room.name);
    if (current !== undefined) {
      clearTimeout(current.timer);
      current.release();
      this.typing.delete(room.name);
    }
    if (!typing) {
      room.awareness.setLocalState(null);
      return null;
    }
    const until = Date.now() + TYPING_INDICATOR_MS;
    const indicator: TypingIndicator = { role: "business", until };
    room.awareness.setLocalState({ typing: indicator });
    // Held so the room, and its presence, stay loaded until the indicator ends.
    const release = room.hold();
    const timer = setTimeout(() => {
      this.typing.delete(room.name);
      if (room.isOpen) room.awareness.setLocalState(null);
      release();
    }, TYPING_INDICATOR_MS);
    timer.unref();
    this.typing.set(room.name, { timer, release });
    return until;
  }

  private async list(
    appId: string,
    params: URLSearchParams,
  ): Promise<{ users: ConversationSummary[]; nextCursor: string | null }> {
    const limit = integerParam(params, "limit", 50, 200);
    const kind = params.get("kind");
    if (kind !== null && kind !== "user" && kind !== "anonymous") {
      throw new InvalidArgumentError("kind", 'must be "user" or "anonymous"');
    }
    const cursorParam = params.get("cursor");
    let cursor: ConversationPosition | undefined;
    if (cursorParam !== null) {
      try {
        const value: unknown = JSON.parse(Buffer.from(cursorParam, "base64url").toString("utf8"));
        if (!Array.isArray(value) || typeof value[0] !== "number" || typeof value[1] !== "string") throw new Error();
        cursor = { lastActivity: value[0], name: value[1] };
      } catch {
        throw new InvalidArgumentError("cursor", "is not a cursor this API returned");
      }
    }
    const page = await this.conversations.page(appId, kind, cursor, limit);
    return {
      users: page.summaries,
      nextCursor:
        page.next === null
          ? null
          : Buffer.from(JSON.stringify([page.next.lastActivity, page.next.name])).toString("base64url"),
    };
  }
}
