/**
 * The support widget: a launcher bubble at the bottom right (with the unread count), opening a chat panel
 * — full screen on a phone. Whether it is open survives a reload of the tab.
 */
import { useReadState } from "@parley/react";
import { useEffect, useState } from "react";
import { Composer } from "./composer.js";
import { WidgetHeader } from "./header.js";
import { Thread } from "./thread.js";

const OPEN_KEY = "acme-help-open";

function initiallyOpen(): boolean {
  try {
    return sessionStorage.getItem(OPEN_KEY) === "1";
  } catch {
    return false;
  }
}

export function Widget() {
  const [open, setOpen] = useState(initiallyOpen);
  const { unread } = useReadState();
  useEffect(() => {
    try {
      sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
    } catch {
      // Private modes may refuse storage; the widget then just starts closed.
    }
  }, [open]);

  return (
    <div className="widget" data-open={open}>
      {open && (
        <section className="panel" data-testid="widget-panel" aria-label="Chat with Acme support">
          <WidgetHeader onClose={() => setOpen(false)} />
          <Thread />
          <Composer />
        </section>
      )}
      <button
        type="button"
        className="launcher"
        data-testid="launcher"
        aria-expanded={open}
        aria-label={open ? "Close the chat" : unread > 0 ? `Open the chat, ${unread} unread` : "Open the chat"}
        onClick={() => setOpen(!open)}
      >
        {open ? (
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 6l12 12M18 6L6 18" />
          </svg>
        ) : (
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 5h16v11H9l-5 4z" />
          </svg>
        )}
        {!open && unread > 0 && (
          <span className="launcher-badge" data-testid="launcher-badge">
            {unread}
          </span>
        )}
      </button>
    </div>
  );
}
