/** How the inbox names a user: their profile's name, else their userId, else "Guest" and a short id. */
import type { ConversationSummary, SubjectDetails } from "./api.js";

export function displayName(subject: ConversationSummary | SubjectDetails): string {
  const profile = "profile" in subject ? subject.profile : undefined;
  const name = [profile?.givenName, profile?.surname].filter(Boolean).join(" ");
  if (name !== "") return name;
  return subject.kind === "user" ? subject.id : `Guest ${subject.id.slice(0, 6)}`;
}

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** A time today, else a date. */
export function when(ts: number): string {
  return new Date(ts).toDateString() === new Date().toDateString() ? time.format(ts) : day.format(ts);
}
