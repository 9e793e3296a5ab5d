/**
 * The app backend's two endpoints. The page never sees the app key: it asks the backend for a signed
 * user token, as a real app would after its own login.
 */

/** Where the page finds Parley, as the backend tells it. */
export interface ChatConfig {
  appId: string;
  relayUrl: string;
}

/** Reads the app id and relay URL from the backend. */
export async function fetchConfig(): Promise<ChatConfig> {
  const body = await call("/api/config", { method: "GET" });
  if (typeof body.appId !== "string" || typeof body.relayUrl !== "string") {
    throw new Error("the backend's /api/config answered without appId and relayUrl");
  }
  return { appId: body.appId, relayUrl: body.relayUrl };
}

/** Asks the backend for a fresh user token for `userId`. */
export async function fetchUserToken(userId: string): Promise<string> {
  const body = await call("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId }),
  });
  if (typeof body.jwt !== "string") throw new Error("the backend's /api/login answered without a jwt");
  return body.jwt;
}

async function call(path: string, init: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetch(path, init);
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new Error(typeof body.error === "string" ? body.error : `${path} answered ${response.status}`);
  }
  return body;
}
