/**
 * @parley/react against a real relay process: the hooks show what the client holds and follow it live
 * (messages and their status, identity, connection, business replies, typing and read state, login and
 * logout with their pending and error states). React Testing Library renders into jsdom; the clients use
 * memory storage and the `ws` WebSocket.
 */
import "./support/dom.js";
import { createBusinessClient } from "@parley/business";
import { createClient, memoryStorage, type ParleyClient, UnsentChangesError } from "@parley/client";
import {
  ParleyProvider,
  useConnectionStatus,
  useIdentity,
  useMessages,
  useReadState,
  useSend,
  useSession,
  useTyping,
  useUnsent,
} from "@parley/react";
import { act, cleanup, render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
const clients: ParleyClient[] = [];

afterEach(async () => {
  cleanup();
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await relay?.stop();
  relay = undefined;
});

function makeClient(): ParleyClient {
  if (relay === undefined) throw new Error("start the relay first");
  const client = createClient({
    appId: TEST_APP.id,
    relayUrl: relay.url,
    storage: memoryStorage(),
    WebSocket,
    tabSync: false,
    flushTimeoutMs: 3_000,
  });
  clients.push(client);
  return client;
}

function business() {
  if (relay === undefined) throw new Error("start the relay first");
  return createBusinessClient({
    baseUrl: relay.httpUrl,
    appId: TEST_APP.id,
    keyId: TEST_APP.kid,
    secret: TEST_APP.secret,
  });
}

const text = (testId: string) => screen.getByTestId(testId).textContent ?? "";
const until = (what: string, check: () => boolean) => waitFor(async () => check(), { what, timeoutMs: 20_000 });

/** Everything the read hooks show, as text, so a test asserts what a user would see. */
function Thread(): ReactNode {
  const identity = useIdentity();
  const messages = useMessages();
  const connection = useConnectionStatus();
  const unsent = useUnsent();
  const { businessTyping } = useTyping();
  const reads = useReadState();
  return (
    <div>
      <p data-testid="identity">
        {identity === undefined ? "loading" : identity.kind === "user" ? identity.userId : "anonymous"}
      </p>
      <p data-testid="connection">{connection}</p>
      <p data-testid="unsent">{unsent.count}</p>
      <p data-testid="typing">{businessTyping ? "typing" : "idle"}</p>
      <p data-testid="unread">{reads.unread}</p>
      <ol data-testid="messages">
        {messages.map((m) => (
          <li key={m.id}>{`${m.role}:${m.text}:${m.status}${m.readByBusiness ? ":read" : ""}`}</li>
        ))}
      </ol>
    </div>
  );
}

function Sender({ expose }: { expose: (send: ReturnType<typeof useSend>) => void }): ReactNode {
  expose(useSend());
  return null;
}

function Reader({ expose }: { expose: (markRead: () => Promise<void>) => void }): ReactNode {
  expose(useReadState().markRead);
  return null;
}

/** How many messages this client sent, through a selector. */
function Count({ onRender }: { onRender: () => void }): ReactNode {
  onRender();
  const mine = useMessages((messages) => messages.filter((m) => m.mine).length);
  return <p data-testid="count">{mine}</p>;
}

function Account({ expose }: { expose: (session: ReturnType<typeof useSession>) => void }): ReactNode {
  const session = useSession();
  expose(session);
  return (
    <p data-testid="account">
      {session.userId ?? "anonymous"}
      {session.error ? `:${session.error.name}` : ""}
    </p>
  );
}

const shown = () => [...screen.getByTestId("messages").querySelectorAll("li")].map((li) => li.textContent);

describe("@parley/react hooks", () => {
  it("show the thread live: a sent message goes pending → sent, the connection online, then reconnecting while the relay is down", async () => {
    relay = await startRelay();
    const client = makeClient();
    let send: ReturnType<typeof useSend> | undefined;
    render(
      <ParleyProvider client={client}>
        <Thread />
        <Sender
          expose={(value) => {
            send = value;
          }}
        />
      </ParleyProvider>,
    );
    await until("ready", () => text("identity") === "anonymous");
    await until("online", () => text("connection") === "online");

    await act(async () => {
      await send?.("hello from React");
    });
    expect(shown()).toEqual([expect.stringMatching(/^user:hello from React:(pending|sent)$/)]);
    await until("sent", () => shown()[0] === "user:hello from React:sent");
    expect(text("unsent")).toBe("0");

    await relay.stop();
    await until("reconnecting", () => text("connection") === "reconnecting");
    await act(async () => {
      await send?.("while the relay is down");
    });
    expect(shown()[1]).toBe("user:while the relay is down:pending");
    expect(text("unsent")).toBe("1");

    // No network at all is another state than an unreachable relay.
    Object.defineProperty(window.navigator, "onLine", { configurable: true, get: () => false });
    act(() => void window.dispatchEvent(new Event("offline")));
    expect(text("connection")).toBe("offline");
    Object.defineProperty(window.navigator, "onLine", { configurable: true, get: () => true });
    act(() => void window.dispatchEvent(new Event("online")));

    await relay.restart();
    await until("delivered", () => shown()[1] === "user:while the relay is down:sent");
    await until("online again", () => text("connection") === "online");
    expect(text("unsent")).toBe("0");
  });

  it("show a business reply, the business typing and its read position, and markRead clears the unread count", async () => {
    relay = await startRelay();
    const client = makeClient();
    const user = `reader-${Math.random().toString(36).slice(2, 8)}`;
    await client.login(user, await signUserToken(user));
    await client.send("where is my order?");
    await client.flush();
    let markRead: (() => Promise<void>) | undefined;
    render(
      <ParleyProvider client={client}>
        <Thread />
        <Reader
          expose={(value) => {
            markRead = value;
          }}
        />
      </ParleyProvider>,
    );
    await until("the user", () => text("identity") === user);
    await until("online", () => text("connection") === "online");

    const agent = business();
    await agent.setTyping({ kind: "user", id: user }, true);
    await until("business typing", () => text("typing") === "typing");
    await agent.markRead({ kind: "user", id: user });
    await until("read by the business", () => shown()[0] === "user:where is my order?:sent:read");
    await agent.postMessage({ kind: "user", id: user }, { text: "It ships today.", author: { name: "Ada" } });
    await until("the reply", () => shown()[1] === "business:It ships today.:sent:read");
    expect(text("unread")).toBe("1");
    await agent.setTyping({ kind: "user", id: user }, false);
    await until("business stopped typing", () => text("typing") === "idle");

    await act(async () => {
      await markRead?.();
    });
    await until("nothing unread", () => text("unread") === "0");
  });

  it("useMessages with a selector re-renders only when the selected value changes", async () => {
    relay = await startRelay();
    const client = makeClient();
    let renders = 0;
    render(
      <ParleyProvider client={client}>
        <Count
          onRender={() => {
            renders += 1;
          }}
        />
      </ParleyProvider>,
    );
    await client.ready;
    await act(async () => {
      await client.send("one");
    });
    await until("counted", () => text("count") === "1");
    await client.flush();
    const settled = renders;
    // The message turning sent and the read position moving change the thread, not the count.
    await act(async () => {
      await client.markRead();
    });
    expect(renders).toBe(settled);
    await act(async () => {
      await client.send("two");
    });
    await until("counted again", () => text("count") === "2");
  });

  it("useSession logs in with a token fetcher, reports pending, and asks before a logout would drop unsent messages", async () => {
    relay = await startRelay();
    const client = makeClient();
    const user = `session-${Math.random().toString(36).slice(2, 8)}`;
    let session: ReturnType<typeof useSession> | undefined;
    const pendings: (string | null)[] = [];
    render(
      <ParleyProvider client={client}>
        <Account
          expose={(value) => {
            session = value;
            pendings.push(value.pending);
          }}
        />
      </ParleyProvider>,
    );
    await client.ready;
    let loggedIn: boolean | undefined;
    await act(async () => {
      loggedIn = await session?.login(user, () => signUserToken(user));
    });
    expect(loggedIn).toBe(true);
    expect(pendings).toContain("login");
    expect(text("account")).toBe(user);

    await relay.stop();
    await act(async () => {
      await client.send("not stored yet");
    });
    let outcome: boolean | undefined;
    await act(async () => {
      outcome = await session?.logout();
    });
    expect(outcome).toBe(false);
    expect(session?.error).toBeInstanceOf(UnsentChangesError);
    expect(text("account")).toBe(`${user}:UnsentChangesError`);

    await act(async () => {
      outcome = await session?.logout({ discardUnsent: true });
    });
    expect(outcome).toBe(true);
    expect(pendings).toContain("logout");
    expect(text("account")).toBe("anonymous");
  });

  it("a provider given `create` makes the client in an effect, shows the fallback until it is ready, and destroys it on unmount", async () => {
    relay = await startRelay();
    let created: ParleyClient | undefined;
    const view = render(
      <ParleyProvider
        create={() => {
          created = makeClient();
          return created;
        }}
        fallback={<p data-testid="fallback">Loading…</p>}
      >
        <Thread />
      </ParleyProvider>,
    );
    await until("ready", () => screen.queryByTestId("identity")?.textContent === "anonymous");
    expect(created).toBeDefined();
    view.unmount();
    await waitFor(
      async () => {
        try {
          created?.messages();
          return false;
        } catch (error) {
          return (error as { code?: string }).code !== undefined;
        }
      },
      { what: "the created client destroyed" },
    );
  });

  it("a hook outside a provider says what is missing", () => {
    expect(() => render(<Thread />)).toThrow(/inside <ParleyProvider>/);
  });
});
