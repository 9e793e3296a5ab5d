/**
 * The agent inbox's API: the business side of the demo, through `@parley/business`. The browser never
 * holds the app key; this server signs the business API's app tokens.
 *
 * - `GET  /api/inbox/conversations` → conversations, newest activity first, with unread counts.
 * - `GET  /api/inbox/conversations/:kind/:id` → `{ subject, messages }`: profile, clients, read positions,
 *   whether the user is typing, and the newest messages.
 * - `POST /api/inbox/conversations/:kind/:id/messages` `{ text }` → the agent's reply.
 * - `POST /api/inbox/conversations/:kind/:id/typing` `{ typing }` and `/read` → typing and read position.
 *
 * DEMO ONLY: there is no agent login. A real inbox sits behind the company's staff authentication.
 */
import { type BusinessClient, NotFoundError, RelayUnavailableError, type SubjectRef } from "@parley/business";

/** The agent who answers in the demo. */
export const DEMO_AGENT = { id: "agent-ada", name: "Ada Lindqvist", avatarUrl: "/agent-avatar.svg" };

const MESSAGES_SHOWN = 200;
const MAX_REPLY_LENGTH = 10_000;

/** An API answer: HTTP status and JSON body. */
export interface InboxAnswer {
  status: number;
  body: unknown;
}

/** Answers `method path` (under `/api/inbox/`) with `body`; `undefined` if the path is not the inbox's. */
export async function handleInbox(
  business: BusinessClient,
  method: string,
  path: string,
  readBody: () => Promise<unknown>,
): Promise<InboxAnswer | undefined> {
  try {
    return await answer(business, method, path, readBody);
  } catch (error) {
    if (error instanceof NotFoundError) return { status: 404, body: { error: "no such conversation" } };
    if (error instanceof RelayUnavailableError) return { status: 503, body: { error: "the relay is unreachable" } };
    throw error;
  }
}

async function answer(
  business: BusinessClient,
  method: string,
  path: string,
  readBody: () => Promise<unknown>,
): Promise<InboxAnswer | undefined> {
  if (path === "/api/inbox/conversations") {
    if (method !== "GET") return { status: 405, body: { error: "use GET" } };
    const page = await business.listConversations({ limit: 100 });
    // A merged anonymous conversation lives on in its user's: the inbox lists that one only.
    return { status: 200, body: { conversations: page.users.filter((summary) => summary.state !== "merged") } };
  }
  const match = /^\/api\/inbox\/conversations\/(user|anonymous)\/([^/]+)(?:\/(messages|typing|read))?$/.exec(path);
  if (match === null) return undefined;
  const subject: SubjectRef = { kind: match[1] as SubjectRef["kind"], id: decodeURIComponent(match[2] ?? "") };
  const action = match[3];
  if (action === undefined) {
    if (method !== "GET") return { status: 405, body: { error: "use GET" } };
    const [details, page] = await Promise.all([
      business.getSubject(subject),
      business.listMessages(subject, { limit: MESSAGES_SHOWN }),
    ]);
    return { status: 200, body: { subject: details, messages: page.messages } };
  }
  if (method !== "POST") return { status: 405, body: { error: "use POST" } };
  const input = (await readBody()) as Record<string, unknown> | null;
  if (action === "messages") {
    const text = typeof input?.text === "string" ? input.text.trim() : "";
    if (text === "" || text.length > MAX_REPLY_LENGTH) {
      return { status: 400, body: { error: `text must be 1-${MAX_REPLY_LENGTH} characters` } };
    }
    const { message } = await business.postMessage(subject, { text, author: DEMO_AGENT });
    await business.setTyping(subject, false);
    return { status: 201, body: { message } };
  }
  if (action === "typing") {
    return { status: 200, body: await business.setTyping(subject, input?.typing !== false) };
  }
  return { status: 200, body: await business.markRead(subject) };
}
