/** Renders the conversation: one bubble per message, the user's on the right, with time and delivery status. */
import type { ConversationMessage } from "@parley/client";

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** Replaces the thread's content with `messages`, keeping the view pinned to the bottom if it was. */
export function renderThread(thread: HTMLElement, messages: readonly ConversationMessage[]): void {
  const pinned = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
  thread.replaceChildren(...(messages.length === 0 ? [emptyState()] : messages.map(messageView)));
  if (pinned) thread.scrollTop = thread.scrollHeight;
}

function emptyState(): HTMLElement {
  const empty = document.createElement("div");
  empty.className = "empty";
  empty.dataset.testid = "thread-empty";
  const title = document.createElement("strong");
  title.textContent = "No messages yet";
  empty.append(title, "Ask us anything — we usually answer within minutes.");
  return empty;
}

function messageView(message: ConversationMessage): HTMLElement {
  const article = document.createElement("article");
  article.className = `message ${message.role}`;
  article.dataset.testid = "message";
  article.dataset.id = message.id;
  article.dataset.status = message.status;

  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.dataset.testid = "message-text";
  bubble.textContent = message.text;

  const meta = document.createElement("div");
  meta.className = "meta";
  const parts: string[] = [];
  if (message.role === "business") parts.push(message.author?.name ?? "Support");
  else if (!message.mine) parts.push("from another device");
  parts.push(timeFormat.format(message.ts));
  meta.textContent = parts.join(" · ");
  if (message.role === "user") {
    const status = document.createElement("span");
    status.className = `status-${message.status}`;
    status.dataset.testid = "message-status";
    status.textContent = message.status === "sent" ? " · ✓ sent" : " · ◷ sending";
    meta.append(status);
  }
  article.append(bubble, meta);
  return article;
}
