/**
 * The agent inbox: conversations by newest activity with their unread counts on the left; the open
 * conversation in the middle (the user's messages, the agent's replies with whether the user has seen
 * them, the user typing, a reply box that shows the agent typing to the user); and who the user is on
 * the right (profile, custom properties, the clients they wrote from). Opening a conversation marks it
 * read for the business.
 */
import { useCallback, useEffect, useState } from "react";
import { getConversation, listConversations, type SubjectRef } from "./api.js";
import { ConversationList } from "./conversation-list.js";
import { ConversationView } from "./conversation-view.js";
import { usePolling } from "./use-polling.js";

function fromHash(): SubjectRef | null {
  const match = /^#(user|anonymous)\/(.+)$/.exec(window.location.hash);
  return match === null ? null : { kind: match[1] as SubjectRef["kind"], id: decodeURIComponent(match[2] ?? "") };
}

export function Inbox() {
  const [selected, setSelected] = useState<SubjectRef | null>(fromHash);
  const list = usePolling(listConversations, 1_500);
  const load = useCallback(
    () => (selected === null ? Promise.reject(new Error("none")) : getConversation(selected)),
    [selected],
  );
  const conversation = usePolling(selected === null ? null : load, 1_000);

  useEffect(() => {
    const onHash = () => setSelected(fromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const select = (subject: SubjectRef) => {
    window.location.hash = `${subject.kind}/${encodeURIComponent(subject.id)}`;
    setSelected(subject);
  };

  return (
    <div className="inbox">
      <header className="inbox-bar">
        <img src="/agent-avatar.svg" alt="" width={28} height={28} />
        <strong>Acme Support</strong>
        <span className="inbox-sub">Inbox · signed in as Ada Lindqvist (demo)</span>
      </header>
      <div className="inbox-body">
        <ConversationList conversations={list.data} error={list.error} selected={selected} onSelect={select} />
        {selected === null ? (
          <main className="inbox-empty">
            <p>Pick a conversation on the left.</p>
          </main>
        ) : (
          <ConversationView
            key={`${selected.kind}/${selected.id}`}
            subject={selected}
            conversation={conversation.data}
            error={conversation.error}
            onChanged={() => {
              conversation.refresh();
              list.refresh();
            }}
          />
        )}
      </div>
    </div>
  );
}
