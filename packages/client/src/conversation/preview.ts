/**
 * The relay's preview of a long conversation's newest messages (the `recent` frame), shown together with
 * what the local document holds until the first sync lands. The preview is never written into the
 * document: it is the relay's stored copy, so its messages show as `sent`.
 */
import type { RecentPreview } from "@parley/protocol";
import { type ConversationMessage, toMessageView } from "./conversation.js";

/** The previewed messages that the document does not hold yet, merged with `local` in display order. */
export function withPreview(
  local: ConversationMessage[],
  preview: RecentPreview,
  clientId: string,
  businessRead: number,
): ConversationMessage[] {
  const present = new Set(local.map((message) => message.id));
  const merged = [...local];
  for (const record of preview.messages) {
    if (!present.has(record.id)) merged.push(toMessageView(record, "sent", clientId, businessRead));
  }
  return merged.length === local.length ? local : merged.sort(byDisplayOrder);
}

function byDisplayOrder(a: ConversationMessage, b: ConversationMessage): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The newest `ts` of the preview, so that a message written meanwhile sorts after what it answers. */
export function previewMaxTimestamp(preview: RecentPreview | undefined): number {
  return preview?.messages.at(-1)?.ts ?? 0;
}
