/**
 * One conversation in the inbox: the thread, the reply box, and the user's details. While the agent
 * types, the user's widget shows it (renewed every few seconds, cleared on send); whatever the agent has
 * open counts as read by the business, so the user's widget shows "Read".
 */
import { type FormEvent, type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import { describeAgent, relativeTime } from "../account/agent-names.js";
import { type Conversation, markRead, reply, type SubjectRef, setTyping } from "./api.js";
import { displayName, when } from "./names.js";

const TYPING_RENEW_MS = 3_000;

export function ConversationView(props: {
  subject: SubjectRef;
  conversation: Conversation | undefined;
  error: string | null;
  onChanged: () => void;
}) {
  const { subject, conversation, onChanged } = props;
  const details = conversation?.subject;
  const unread = details?.unread.business ?? 0;

  // What the agent has on screen is read.
  useEffect(() => {
    if (unread > 0) void markRead(subject).then(onChanged, () => {});
  }, [unread, subject, onChanged]);

  return (
    <>
      <main className="inbox-thread" aria-label="Conversation">
        <header className="inbox-thread-head">
          <strong data-testid="inbox-thread-name">{details === undefined ? "…" : displayName(details)}</strong>
          <span className="inbox-muted" data-testid="inbox-user-typing">
            {details?.userTyping ? "typing…" : details?.kind === "anonymous" ? "Guest, not signed in" : ""}
          </span>
        </header>
        {props.error !== null && <p className="inbox-error">{props.error}</p>}
        <Messages conversation={conversation} />
        <ReplyBox subject={subject} onSent={onChanged} />
      </main>
      <aside className="inbox-details" aria-label="About this user" data-testid="inbox-details">
        {details === undefined ? (
          <p className="inbox-muted">Loading…</p>
        ) : (
          <>
            <h2>{displayName(details)}</h2>
            <dl>
              <dt>{details.kind === "user" ? "User id" : "Guest id"}</dt>
              <dd>{details.id}</dd>
              {details.profile.email && (
                <>
                  <dt>Email</dt>
                  <dd data-testid="inbox-email">{details.profile.email}</dd>
                </>
              )}
              {Object.entries(details.profile.properties).map(([name, value]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>{JSON.stringify(value)}</dd>
                </div>
              ))}
              {details.merged.length > 0 && (
                <>
                  <dt>Earlier as a guest</dt>
                  <dd>
                    {details.merged.length === 1
                      ? "1 conversation merged"
                      : `${details.merged.length} conversations merged`}
                  </dd>
                </>
              )}
            </dl>
            <h3>Devices</h3>
            <ul className="inbox-clients" data-testid="inbox-clients">
              {details.clients.map((client) => (
                <li key={client.id} data-testid="inbox-client" data-active={String(client.active)}>
                  <strong>{describeAgent(client)}</strong>
                  <span className="device-id">#{client.id.slice(0, 4)}</span>
                  <span className="inbox-muted">
                    {client.active ? "signed in" : "signed out"} · last seen {relativeTime(client.lastSeen)}
                    {client.appVersion ? ` · app ${client.appVersion}` : ""}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}
      </aside>
    </>
  );
}

function Messages({ conversation }: { conversation: Conversation | undefined }) {
  const list = useRef<HTMLDivElement>(null);
  const messages = conversation?.messages ?? [];
  const seenUpTo = conversation?.subject.reads.user ?? 0;
  let lastReply = messages.length - 1;
  while (lastReply >= 0 && messages[lastReply]?.role !== "business") lastReply -= 1;
  const newestId = messages.at(-1)?.id;
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls when the newest message changes
  useLayoutEffect(() => {
    const element = list.current;
    if (element !== null) element.scrollTop = element.scrollHeight;
  }, [newestId]);
  return (
    <div className="inbox-messages" ref={list} data-testid="inbox-messages">
      {messages.map((message, index) => (
        <article
          key={message.id}
          className={`inbox-message ${message.role}`}
          data-testid="inbox-message"
          data-role={message.role}
        >
          <div className="bubble" data-testid="inbox-message-text">
            {message.text}
          </div>
          <div className="meta">
            {message.role === "business" ? (message.author?.name ?? "Business") : "Customer"} · {when(message.ts)}
            {index === lastReply && (
              <span data-testid="inbox-seen" data-seen={String(seenUpTo >= message.ts)}>
                {seenUpTo >= message.ts ? " · Seen" : " · Not seen yet"}
              </span>
            )}
          </div>
        </article>
      ))}
    </div>
  );
}

function ReplyBox({ subject, onSent }: { subject: SubjectRef; onSent: () => void }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const typingSince = useRef(0);

  const typing = (value: string) => {
    setText(value);
    const now = Date.now();
    if (value !== "" && now - typingSince.current > TYPING_RENEW_MS) {
      typingSince.current = now;
      void setTyping(subject, true).catch(() => {});
    }
  };
  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const message = text.trim();
    if (message === "" || busy) return;
    setBusy(true);
    setError(null);
    try {
      await reply(subject, message);
      typingSince.current = 0;
      setText("");
      onSent();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      void send();
    }
  };
  return (
    <form className="inbox-reply" onSubmit={send} data-testid="inbox-reply">
      {error !== null && <p className="inbox-error">{error}</p>}
      <textarea
        data-testid="inbox-reply-input"
        rows={3}
        value={text}
        placeholder="Reply as Ada… (Enter sends, Shift+Enter for a new line)"
        onChange={(event) => typing(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit" data-testid="inbox-reply-send" disabled={busy || text.trim() === ""}>
        {busy ? "Sending…" : "Send reply"}
      </button>
    </form>
  );
}
