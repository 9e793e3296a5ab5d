/** Short human names for what the relay records of a client: its User-Agent, and times. */
import type { ClientRecord } from "@parley/client";

const BROWSERS: [RegExp, string][] = [
  [/Edg\//, "Edge"],
  [/Firefox\//, "Firefox"],
  [/HeadlessChrome\//, "Headless Chrome"],
  [/Chrom(e|ium)\//, "Chrome"],
  [/Safari\//, "Safari"],
];
const SYSTEMS: [RegExp, string][] = [
  [/Windows/, "Windows"],
  [/Mac OS X/, "macOS"],
  [/Android/, "Android"],
  [/iPhone|iPad/, "iOS"],
  [/Linux/, "Linux"],
];

/** "Chrome on Linux", or the platform ("node", "web") when there is no User-Agent. */
export function describeAgent(client: ClientRecord): string {
  const ua = client.userAgent ?? "";
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  return client.platform === "node" ? "Terminal (Node.js)" : client.platform;
}

/** "just now", "3 min ago", "2 h ago", or a date. */
export function relativeTime(ts: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - ts) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

/** A time today, or a date and time. */
export function shortTime(ts: number): string {
  return new Date(ts).toDateString() === new Date().toDateString() ? time.format(ts) : dateTime.format(ts);
}
