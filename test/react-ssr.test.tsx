/**
 * Server rendering with @parley/react touches neither the client nor any storage: the hooks answer their
 * stable server snapshots, and a provider's `create` runs only in an effect, which the server never runs.
 */
import type { ParleyClient } from "@parley/client";
import {
  ParleyProvider,
  useClients,
  useConnectionStatus,
  useIdentity,
  useMessages,
  useParley,
  useProfile,
  useReadState,
  useSession,
  useTyping,
  useUnsent,
} from "@parley/react";
import type { ReactNode } from "react";
import { renderToString } from "react-dom/server";
import { afterEach, describe, expect, it } from "vitest";

/** Every hook, rendered as text. */
function Everything(): ReactNode {
  const client = useParley();
  const identity = useIdentity();
  const count = useMessages((messages) => messages.length);
  const connection = useConnectionStatus();
  const unsent = useUnsent();
  const typing = useTyping();
  const reads = useReadState();
  const session = useSession();
  const profile = useProfile();
  const clients = useClients();
  return (
    <p>
      {[
        client === null ? "no-client" : "client",
        identity?.kind ?? "no-identity",
        count,
        connection,
        unsent.count,
        typing.businessTyping,
        reads.unread,
        session.userId ?? "anonymous",
        session.pending ?? "idle",
        Object.keys(profile.properties).length,
        clients.length,
      ].join("|")}
    </p>
  );
}

const touched: string[] = [];
const indexedDbDescriptor = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");

afterEach(() => {
  touched.length = 0;
  if (indexedDbDescriptor === undefined) delete (globalThis as { indexedDB?: unknown }).indexedDB;
  else Object.defineProperty(globalThis, "indexedDB", indexedDbDescriptor);
});

/** Any read of `indexedDB` during the render is recorded. */
function watchIndexedDb(): void {
  Object.defineProperty(globalThis, "indexedDB", {
    configurable: true,
    get() {
      touched.push("indexedDB");
      return undefined;
    },
  });
}

/** A client whose every property read is recorded: the render must not read any. */
function recordingClient(): ParleyClient {
  return new Proxy({} as ParleyClient, {
    get(_target, property) {
      touched.push(`client.${String(property)}`);
      return undefined;
    },
  });
}

describe("@parley/react on the server", () => {
  it("a provider with `create` renders the fallback and never calls the factory", () => {
    watchIndexedDb();
    let calls = 0;
    const html = renderToString(
      <ParleyProvider
        create={() => {
          calls += 1;
          return recordingClient();
        }}
        fallback={<span>Loading chat…</span>}
      >
        <Everything />
      </ParleyProvider>,
    );
    expect(html).toBe("<span>Loading chat…</span>");
    expect(calls).toBe(0);
    expect(touched).toEqual([]);
  });

  it("without a fallback, every hook renders its empty server snapshot", () => {
    watchIndexedDb();
    const html = renderToString(
      <ParleyProvider create={recordingClient}>
        <Everything />
      </ParleyProvider>,
    );
    expect(html).toBe("<p>no-client|no-identity|0|connecting|0|false|0|anonymous|idle|0|0</p>");
    expect(touched).toEqual([]);
  });

  it("a provider given a client renders the hooks' server snapshots without reading anything of the client", () => {
    watchIndexedDb();
    const html = renderToString(
      <ParleyProvider client={recordingClient()}>
        <Everything />
      </ParleyProvider>,
    );
    expect(html).toBe("<p>client|no-identity|0|connecting|0|false|0|anonymous|idle|0|0</p>");
    expect(touched).toEqual([]);
  });
});
