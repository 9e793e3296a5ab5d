/** Renders the list of the user's clients (devices, browsers) as the relay recorded them. */
import type { ClientRecord } from "@parley/client";

/** Replaces `list`'s items with one per client, this one first. */
export function renderClients(list: HTMLElement, clients: readonly ClientRecord[], ownClientId: string): void {
  const sorted = [...clients].sort((a, b) =>
    a.id === ownClientId ? -1 : b.id === ownClientId ? 1 : b.lastSeen - a.lastSeen,
  );
  if (sorted.length === 0) {
    const item = document.createElement("li");
    item.className = "detail";
    item.textContent = "This device appears here once it has reached the server.";
    list.replaceChildren(item);
    return;
  }
  list.replaceChildren(...sorted.map((client) => clientView(client, client.id === ownClientId)));
}

function clientView(client: ClientRecord, isThisDevice: boolean): HTMLElement {
  const item = document.createElement("li");
  item.dataset.testid = "client";
  item.dataset.id = client.id;
  item.dataset.active = String(client.active);

  const name = document.createElement("span");
  name.className = "name";
  name.textContent = describeAgent(client);

  const badge = document.createElement("span");
  badge.className = client.active ? "badge active" : "badge";
  badge.textContent = client.active ? "active" : "logged out";

  const detail = document.createElement("span");
  detail.className = "detail";
  const version = client.appVersion ? ` ${client.appVersion}` : "";
  const seen = isThisDevice ? "this device" : `last seen ${relativeTime(client.lastSeen)}`;
  detail.textContent = `${client.platform}${version} · ${seen}`;

  item.append(name, badge, detail);
  return item;
}

/** A short human name for a User-Agent: the browser and the OS, or the platform if there is none. */
function describeAgent(client: ClientRecord): string {
  const ua = client.userAgent ?? "";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : undefined;
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Mac OS X/.test(ua)
      ? "macOS"
      : /Android/.test(ua)
        ? "Android"
        : /iPhone|iPad/.test(ua)
          ? "iOS"
          : /Linux/.test(ua)
            ? "Linux"
            : undefined;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? client.platform;
}

function relativeTime(ts: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - ts) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}
