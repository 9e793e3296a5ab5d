/**
 * Presence fields Parley gives a meaning to. Presence is y-protocols awareness: ephemeral states that
 * travel in awareness frames (type 1) to everyone in the room and are never stored in the document.
 *
 * Typing, both ways, is the `typing` field of an awareness state:
 *
 * - a user client sets `{ typing: { role: "user", until } }` while the user types (`until` = now + a few
 *   seconds, refreshed as they keep typing) and `typing: null` when they stop or send;
 * - the relay publishes `{ typing: { role: "business", until } }` for the business (business API
 *   `POST …/typing`) and clears it at `until`.
 *
 * `until` bounds an indicator whose "stopped" update was lost. A bare `typing: true` (what a stock
 * y-websocket app might set) counts as the user typing until the state changes.
 */

/** How long one typing signal lasts (`until` = now + this), for users (`setTyping`) and the business alike. */
export const TYPING_INDICATOR_MS = 5_000;

/** The `typing` field of an awareness state. */
export interface TypingIndicator {
  role: "user" | "business";
  /** Milliseconds since the epoch after which the indicator is stale. */
  until: number;
}

/** Who an awareness state shows typing at `now`: `"user"`, `"business"`, or `null` for nobody. */
export function typingOf(state: unknown, now: number = Date.now()): TypingIndicator["role"] | null {
  if (state === null || typeof state !== "object") return null;
  const typing = (state as { typing?: unknown }).typing;
  if (typing === true) return "user";
  if (typing === null || typeof typing !== "object") return null;
  const { role, until } = typing as { role?: unknown; until?: unknown };
  if ((role !== "user" && role !== "business") || typeof until !== "number" || until <= now) return null;
  return role;
}
