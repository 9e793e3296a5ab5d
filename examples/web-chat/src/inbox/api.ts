/** The inbox's calls to the app backend (`/api/inbox/…`), which answers through `@parley/business`. */
import type { ConversationSummary, Message, SubjectDetails, SubjectRef } from "@parley/business";

export type { ConversationSummary, Message, SubjectDetails, SubjectRef };

/** A conversation with its newest messages. */
export interface Conversation {
  subject: SubjectDetails;
  messages: Message[];
}

const base = (subject: SubjectRef) => `/api/inbox/conversations/${subject.kind}/${encodeURIComponent(subject.id)}`;

async function call<T>(path: string, init?: { method: string; body?: unknown }): Promise<T> {
  const response = await fetch(path, {
    method: init?.method ?? "GET",
    headers: init?.body === undefined ? {} : { "content-type": "application/json" },
    ...(init?.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const body = (await response.json().catch(() => ({}))) as { error?: unknown };
  if (!response.ok)
    throw new Error(typeof body.error === "string" ? body.error : `${path} answered ${response.status}`);
  return body as T;
}

export async function listConversations(): Promise<ConversationSummary[]> {
  return (await call<{ conversations: ConversationSummary[] }>("/api/inbox/conversations")).conversations;
}

export function getConversation(subject: SubjectRef): Promise<Conversation> {
  return call<Conversation>(base(subject));
}

export async function reply(subject: SubjectRef, text: string): Promise<void> {
  await call(`${base(subject)}/messages`, { method: "POST", body: { text } });
}

export async function setTyping(subject: SubjectRef, typing: boolean): Promise<void> {
  await call(`${base(subject)}/typing`, { method: "POST", body: { typing } });
}

export async function markRead(subject: SubjectRef): Promise<void> {
  await call(`${base(subject)}/read`, { method: "POST", body: {} });
}
