/**
 * The business client: typed calls to the relay's business API (`/v1/apps/<appId>/…`), authenticated
 * with short-lived app tokens it signs itself from the app key (`keyId` + HS256 `secret`).
 */

import type {
  ConversationPage,
  ImportedMessage,
  ImportResult,
  Message,
  MessagePage,
  PostMessageInput,
  ProfileInput,
  ReadPositions,
  SubjectDetails,
  SubjectRef,
  UnreadCounts,
} from "@parley/protocol";
import { ErrorCode, InvalidArgumentError, RelayUnavailableError } from "@parley/protocol";
import { SignJWT } from "jose";
import { BusinessApiError, NotFoundError } from "./errors.js";

/** Options of {@link createBusinessClient}. */
export interface BusinessClientOptions {
  /** The relay's HTTP base URL, e.g. `https://relay.example.com`. */
  baseUrl: string;
  appId: string;
  /** The `kid` of an HS256 key of the app in the relay config. */
  keyId: string;
  /** That key's secret. Keep it on your backend. */
  secret: string;
  /** Lifetime of the app tokens the client signs, in seconds. Default 300. */
  tokenLifetimeS?: number;
  /** How long one call may take, in ms. Default 30,000. */
  timeoutMs?: number;
  /** A `fetch` implementation. Default: the global one (Node 20+). */
  fetch?: typeof globalThis.fetch;
}

/** The business API. Every method throws a {@link BusinessApiError} (or {@link RelayUnavailableError}). */
export interface BusinessClient {
  /** Conversations of users and anonymous users, newest activity first. */
  listConversations(options?: {
    kind?: "user" | "anonymous";
    limit?: number;
    cursor?: string;
  }): Promise<ConversationPage>;
  /** A user or anonymous user with profile, clients, read positions and unread counts. */
  getSubject(subject: SubjectRef): Promise<SubjectDetails>;
  /**
   * Creates a user before their first login (or updates the profile of an existing one). Resolves with
   * the user and whether this call created it.
   */
  upsertUser(userId: string, profile?: ProfileInput): Promise<{ user: SubjectDetails; created: boolean }>;
  /** Messages, newest page first (each page oldest-first); pass `nextBefore` as `before` for older ones. */
  listMessages(subject: SubjectRef, options?: { before?: string; limit?: number }): Promise<MessagePage>;
  /**
   * Posts a business message; resolves once the relay has stored it (it is forwarded live to every
   * connected client of the user). `created` is false when `input.id` was already stored.
   */
  postMessage(subject: SubjectRef, input: PostMessageInput): Promise<{ message: Message; created: boolean }>;
  /** Imports history into a user's conversation (works before the user ever logged in); idempotent by id. */
  importMessages(userId: string, messages: ImportedMessage[]): Promise<ImportResult>;
  /** Moves the business's read position forward to `ts` (default: the newest message). */
  markRead(subject: SubjectRef, ts?: number): Promise<{ reads: ReadPositions; unread: UnreadCounts }>;
  /** Shows the business typing to the user's connected clients for 5 s (`false` clears it). Never stored. */
  setTyping(subject: SubjectRef, typing?: boolean): Promise<{ typing: boolean; until: number | null }>;
}

interface Answer<T> {
  status: number;
  body: T;
}

function subjectPath(subject: SubjectRef): string {
  if (subject === null || typeof subject !== "object")
    throw new InvalidArgumentError("subject", "must be { kind, id }");
  if (typeof subject.id !== "string" || subject.id === "")
    throw new InvalidArgumentError("subject.id", "must be a string");
  if (subject.kind === "user") return `users/${encodeURIComponent(subject.id)}`;
  if (subject.kind === "anonymous") return `anonymous/${encodeURIComponent(subject.id)}`;
  throw new InvalidArgumentError("subject.kind", 'must be "user" or "anonymous"');
}

function userPath(userId: string): string {
  return subjectPath({ kind: "user", id: userId });
}

function errorFrom(status: number, body: unknown): Error {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== "string") {
    return new RelayUnavailableError(`relay answered HTTP ${status} without an API error`);
  }
  const message = typeof error.message === "string" ? error.message : error.code;
  const answer = new BusinessApiError(error.code as ErrorCode, status, message);
  if (error.code === ErrorCode.NotFound) return new NotFoundError(message, { cause: answer });
  return answer;
}

/** Creates a client of the business API. Throws {@link InvalidArgumentError} on bad options. */
export function createBusinessClient(options: BusinessClientOptions): BusinessClient {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new InvalidArgumentError("baseUrl", "must be an absolute http(s) URL");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new InvalidArgumentError("baseUrl", "must be an http(s) URL");
  }
  for (const key of ["appId", "keyId", "secret"] as const) {
    if (typeof options[key] !== "string" || options[key] === "") {
      throw new InvalidArgumentError(key, "must be a non-empty string");
    }
  }
  const lifetime = options.tokenLifetimeS ?? 300;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? globalThis.fetch;
  const prefix = `${base.href.replace(/\/$/, "")}/v1/apps/${encodeURIComponent(options.appId)}/`;
  const key = new TextEncoder().encode(options.secret);
  let token: { jwt: string; renewAt: number } | undefined;

  async function appToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    if (token !== undefined && now < token.renewAt) return token.jwt;
    // A random `jti` in each token lets an operator deny one that leaked (the app's `denyTokenIds`).
    const jwt = await new SignJWT({ scope: "app" })
      .setProtectedHeader({ alg: "HS256", kid: options.keyId })
      .setJti(globalThis.crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .sign(key);
    // Renewed well before expiry so a token never expires between signing and the relay's check.
    token = { jwt, renewAt: now + Math.floor(lifetime / 2) };
    return jwt;
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${await appToken()}`, accept: "application/json" };
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response: Response;
    let parsed: unknown;
    try {
      response = await doFetch(prefix + path, init);
      const text = await response.text();
      parsed = text === "" ? null : JSON.parse(text);
    } catch (error) {
      throw new RelayUnavailableError(`business API unreachable: ${(error as Error).message}`);
    }
    if (response.status < 200 || response.status > 299) throw errorFrom(response.status, parsed);
    return { status: response.status, body: parsed as T };
  }

  const query = (params: Record<string, string | number | undefined>) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
    const text = search.toString();
    return text === "" ? "" : `?${text}`;
  };

  return {
    async listConversations(list = {}) {
      return (await call<ConversationPage>("GET", `users${query(list)}`)).body;
    },
    async getSubject(subject) {
      return (await call<SubjectDetails>("GET", subjectPath(subject))).body;
    },
    async upsertUser(userId, profile) {
      const answer = await call<SubjectDetails>("PUT", userPath(userId), profile === undefined ? {} : { profile });
      return { user: answer.body, created: answer.status === 201 };
    },
    async listMessages(subject, page = {}) {
      return (await call<MessagePage>("GET", `${subjectPath(subject)}/messages${query(page)}`)).body;
    },
    async postMessage(subject, input) {
      const answer = await call<{ message: Message }>("POST", `${subjectPath(subject)}/messages`, input);
      return { message: answer.body.message, created: answer.status === 201 };
    },
    async importMessages(userId, messages) {
      return (await call<ImportResult>("POST", `${userPath(userId)}/messages:import`, { messages })).body;
    },
    async markRead(subject, ts) {
      return (
        await call<{ reads: ReadPositions; unread: UnreadCounts }>(
          "POST",
          `${subjectPath(subject)}/read`,
          ts === undefined ? {} : { ts },
        )
      ).body;
    },
    async setTyping(subject, typing = true) {
      return (
        await call<{ typing: boolean; until: number | null }>("POST", `${subjectPath(subject)}/typing`, { typing })
      ).body;
    },
  };
}
