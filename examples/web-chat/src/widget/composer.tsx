/**
 * The message box: several lines (Shift+Enter for a new line, Enter sends), growing with its text. The
 * text stays in the box until `send` resolves, i.e. until the message is safe in this browser's store.
 */
import { useSend, useTyping } from "@parley/react";
import { type FormEvent, type KeyboardEvent, useRef, useState } from "react";

const MAX_ROWS = 6;

export function Composer() {
  const send = useSend();
  const { setTyping } = useTyping();
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLTextAreaElement>(null);

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    const message = text.trim();
    if (message === "" || sending) return;
    setSending(true);
    setError(null);
    try {
      await send(message);
      setText((current) => (current.trim() === message ? "" : current));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setSending(false);
      box.current?.focus();
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    }
  };

  const rows = Math.min(MAX_ROWS, Math.max(1, text.split("\n").length));
  return (
    <form className="composer" data-testid="composer" autoComplete="off" onSubmit={submit} aria-busy={sending}>
      {error !== null && (
        <p className="composer-error" role="alert">
          {error}
        </p>
      )}
      <textarea
        ref={box}
        data-testid="message-input"
        rows={rows}
        value={text}
        placeholder="Write a message…"
        maxLength={10_000}
        aria-label="Message"
        onChange={(event) => {
          setText(event.target.value);
          setTyping(event.target.value !== "");
        }}
        onKeyDown={onKeyDown}
      />
      <button type="submit" data-testid="send" aria-label="Send" disabled={text.trim() === ""}>
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 12l16-8-6 16-2-7z" />
        </svg>
      </button>
    </form>
  );
}
