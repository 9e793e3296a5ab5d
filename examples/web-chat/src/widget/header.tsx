/**
 * The panel's header: who answers (the agent of the newest business reply, else the team), and what a
 * person needs to know about the line — typing, online, reconnecting to our server, or no network.
 */
import { type ConnectionState, useConnectionStatus, useMessages, useTyping, useUnsent } from "@parley/react";

const TEAM = { name: "Acme Support", avatarUrl: "/agent-avatar.svg" };

const LINE: Record<ConnectionState, string> = {
  online: "Online · replies in a few minutes",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline · no internet connection",
};

/** The author of the newest business message, as the header shows the agent. */
function useAgent(): { name: string; avatarUrl: string } {
  return useMessages(
    (messages) => {
      const author = [...messages].reverse().find((message) => message.role === "business")?.author;
      return { name: author?.name ?? TEAM.name, avatarUrl: author?.avatarUrl ?? TEAM.avatarUrl };
    },
    (a, b) => a.name === b.name && a.avatarUrl === b.avatarUrl,
  );
}

export function WidgetHeader({ onClose }: { onClose: () => void }) {
  const agent = useAgent();
  const connection = useConnectionStatus();
  const { businessTyping } = useTyping();
  const unsent = useUnsent();
  return (
    <header className="panel-header">
      <img className="avatar" src={agent.avatarUrl} alt="" width={40} height={40} />
      <div className="agent">
        <strong data-testid="agent-name">{agent.name}</strong>
        <span className="line" data-testid="connection-status" data-status={connection}>
          {businessTyping && connection === "online" ? "typing…" : LINE[connection]}
        </span>
      </div>
      <button
        type="button"
        className="icon-button"
        data-testid="widget-close"
        aria-label="Minimize the chat"
        onClick={onClose}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M6 12h12" />
        </svg>
      </button>
      {unsent.count > 0 && connection !== "online" && (
        <p className="unsent-banner" data-testid="unsent-banner" role="status">
          {unsent.count === 1 ? "1 message" : `${unsent.count} messages`} will be sent when the connection is back.
        </p>
      )}
    </header>
  );
}
