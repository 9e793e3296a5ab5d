/**
 * The conversation: bubbles by role, the agent's name and avatar on its replies, when each was sent, a
 * receipt under the user's newest message (sending → sent → read), and the agent typing. The view stays at
 * the newest message while the reader is there, also when the panel resizes (a phone's keyboard).
 */
import type { ConversationMessage } from "@parley/client";
import { useMessages, useReadState, useTyping } from "@parley/react";
import { useEffect, useLayoutEffect, useRef } from "react";

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function receipt(message: ConversationMessage): { label: string; state: string } {
  if (message.status === "pending") return { label: "Sending…", state: "pending" };
  if (message.readByBusiness) return { label: "Read", state: "read" };
  return { label: "Sent", state: "sent" };
}

/** Marks what the panel shows as read while the page is visible. */
function useMarkReadWhileVisible(): void {
  const { unread, markRead } = useReadState();
  useEffect(() => {
    const mark = () => {
      if (document.visibilityState === "visible") void markRead();
    };
    if (unread > 0) mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  }, [unread, markRead]);
}

export function Thread() {
  const messages = useMessages();
  const { businessTyping } = useTyping();
  const list = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  useMarkReadWhileVisible();

  let lastUserIndex = messages.length - 1;
  while (lastUserIndex >= 0 && messages[lastUserIndex]?.role !== "user") lastUserIndex -= 1;
  const newest = messages.at(-1);

  // After every change that adds to the bottom: stay at the newest message if the reader was there, and
  // always after the user's own message.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the bottom of the thread changes
  useLayoutEffect(() => {
    const element = list.current;
    if (element !== null && (pinned.current || newest?.mine === true)) element.scrollTop = element.scrollHeight;
  }, [messages.length, newest?.id, businessTyping]);

  useEffect(() => {
    const element = list.current;
    if (element === null) return;
    const keepPinned = new ResizeObserver(() => {
      if (pinned.current) element.scrollTop = element.scrollHeight;
    });
    keepPinned.observe(element);
    return () => keepPinned.disconnect();
  }, []);

  return (
    <div
      className="thread"
      data-testid="thread"
      ref={list}
      aria-live="polite"
      onScroll={(event) => {
        const element = event.currentTarget;
        pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 48;
      }}
    >
      {messages.length === 0 && (
        <div className="empty" data-testid="thread-empty">
          <strong>Hi! How can we help?</strong>
          Ask about an order, a return or a product. We usually answer within minutes.
        </div>
      )}
      {messages.map((message, index) => {
        const previous = messages[index - 1];
        const firstOfRun = previous === undefined || previous.role !== message.role;
        const shown = receipt(message);
        return (
          <article
            key={message.id}
            className={`message ${message.role}${firstOfRun ? " first" : ""}`}
            data-testid="message"
            data-id={message.id}
            data-role={message.role}
            data-status={message.status}
            data-read={String(message.readByBusiness)}
          >
            {message.role === "business" && firstOfRun && (
              <div className="author">
                <img src={message.author?.avatarUrl ?? "/agent-avatar.svg"} alt="" width={24} height={24} />
                {message.author?.name ?? "Acme Support"}
              </div>
            )}
            <div className="bubble" data-testid="message-text">
              {message.text}
            </div>
            <div className="meta">
              {message.role === "user" && !message.mine && <span>from your other device · </span>}
              <time dateTime={new Date(message.ts).toISOString()}>{time.format(message.ts)}</time>
              {message.role === "user" && index === lastUserIndex && (
                <span className={`receipt ${shown.state}`} data-testid="receipt" data-state={shown.state}>
                  {" · "}
                  {shown.label}
                </span>
              )}
            </div>
          </article>
        );
      })}
      {businessTyping && (
        <div className="typing" data-testid="business-typing" role="status" aria-label="The agent is typing">
          <span />
          <span />
          <span />
        </div>
      )}
    </div>
  );
}
