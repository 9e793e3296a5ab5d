/** The inbox's left column: conversations, newest activity first, with the messages the agent has not read. */
import type { ConversationSummary, SubjectRef } from "./api.js";
import { displayName, when } from "./names.js";

export function ConversationList(props: {
  conversations: ConversationSummary[] | undefined;
  error: string | null;
  selected: SubjectRef | null;
  onSelect: (subject: SubjectRef) => void;
}) {
  const { conversations, selected } = props;
  return (
    <nav className="inbox-list" aria-label="Conversations" data-testid="inbox-list">
      {props.error !== null && <p className="inbox-error">{props.error}</p>}
      {conversations === undefined ? (
        <p className="inbox-muted">Loading…</p>
      ) : conversations.length === 0 ? (
        <p className="inbox-muted">No conversations yet. Write in the widget on the shop page.</p>
      ) : (
        conversations.map((summary) => {
          const active = selected?.kind === summary.kind && selected.id === summary.id;
          const last = summary.lastMessage;
          return (
            <button
              type="button"
              key={`${summary.kind}/${summary.id}`}
              className={`inbox-item${active ? " active" : ""}${summary.unread.business > 0 ? " unread" : ""}`}
              data-testid="inbox-conversation"
              data-kind={summary.kind}
              data-id={summary.id}
              data-unread={summary.unread.business}
              aria-current={active ? "true" : undefined}
              onClick={() => props.onSelect({ kind: summary.kind, id: summary.id })}
            >
              <span className="inbox-avatar" aria-hidden="true">
                {displayName(summary).slice(0, 1).toUpperCase()}
              </span>
              <span className="inbox-item-main">
                <span className="inbox-item-top">
                  <strong>{displayName(summary)}</strong>
                  <time>{when(summary.lastActivity)}</time>
                </span>
                <span className="inbox-item-bottom">
                  <span className="inbox-preview">
                    {summary.state === "loggedOut" ? "Signed out · " : summary.kind === "anonymous" ? "Guest · " : ""}
                    {last === null ? "No messages" : `${last.role === "business" ? "You: " : ""}${last.text}`}
                  </span>
                  {summary.unread.business > 0 && (
                    <span className="inbox-unread" data-testid="inbox-unread">
                      {summary.unread.business}
                    </span>
                  )}
                </span>
              </span>
            </button>
          );
        })
      )}
    </nav>
  );
}
