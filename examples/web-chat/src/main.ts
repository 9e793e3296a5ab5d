/**
 * The web chat: one @parley/client per page. Everything on screen is re-read from the client whenever it
 * reports a change, so tabs, devices and identity switches need no special handling here.
 */
import { createClient, type ParleyClient, UnsentChangesError } from "@parley/client";
import { fetchConfig, fetchUserToken } from "./backend-api.js";
import { renderClients } from "./clients-view.js";
import { fillProfileForm, readProfilePatch } from "./profile-form.js";
import { renderThread } from "./thread-view.js";

function byTestId<T extends HTMLElement>(id: string): T {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`the page has no [data-testid="${id}"]`);
  return element;
}

const ui = {
  status: byTestId("connection-status"),
  identity: byTestId("identity"),
  loginForm: byTestId<HTMLFormElement>("login-form"),
  loginUserId: byTestId<HTMLInputElement>("login-user-id"),
  loginLabel: byTestId("login-label"),
  loginSubmit: byTestId<HTMLButtonElement>("login-submit"),
  logout: byTestId<HTMLButtonElement>("logout"),
  notice: byTestId("notice"),
  profileForm: byTestId<HTMLFormElement>("profile-form"),
  clients: byTestId("clients"),
  thread: byTestId("thread"),
  composer: byTestId<HTMLFormElement>("composer"),
  messageInput: byTestId<HTMLInputElement>("message-input"),
};

const TITLE = document.title;
const STATUS_LABELS = { online: "Online", connecting: "Connecting…", offline: "Offline" } as const;

function showNotice(text: string | null): void {
  ui.notice.hidden = text === null;
  ui.notice.textContent = text ?? "";
}

function renderIdentity(client: ParleyClient): void {
  const identity = client.identity;
  ui.identity.dataset.kind = identity.kind;
  const detail = document.createElement("small");
  if (identity.kind === "anonymous") {
    ui.identity.replaceChildren("Anonymous visitor", detail);
    detail.textContent = `Only this browser can see this conversation · ${identity.anonymousId.slice(0, 8)}`;
  } else {
    ui.identity.replaceChildren(identity.userId, detail);
    ui.identity.dataset.userId = identity.userId;
    detail.textContent = identity.authenticated ? "Signed in" : "Signed in · waiting for the server to confirm";
  }
  if (identity.kind === "anonymous") delete ui.identity.dataset.userId;
  ui.logout.textContent = identity.kind === "anonymous" ? "Start over" : "Log out";
  ui.loginLabel.textContent = identity.kind === "anonymous" ? "Log in as" : "Switch to another user";
}

let shownSubject = "";

function renderAll(client: ParleyClient): void {
  const identity = client.identity;
  const subject = identity.kind === "anonymous" ? `a:${identity.anonymousId}` : `u:${identity.userId}`;
  const newSubject = subject !== shownSubject;
  shownSubject = subject;
  renderIdentity(client);
  ui.status.dataset.status = client.status;
  ui.status.textContent = STATUS_LABELS[client.status];
  renderThread(ui.thread, client.messages());
  const unread = client.unreadCount();
  document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
  fillProfileForm(ui.profileForm, client.profile(), newSubject);
  renderClients(ui.clients, client.clients(), client.clientId);
}

/** Runs a user action with its buttons disabled; a failure is shown, never thrown away. */
async function act(buttons: HTMLButtonElement[], action: () => Promise<void>): Promise<void> {
  for (const button of buttons) button.disabled = true;
  showNotice(null);
  try {
    await action();
  } catch (error) {
    showNotice(error instanceof Error ? error.message : String(error));
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

/** Asks before discarding messages the server has not stored yet; retries with `discardUnsent` if allowed. */
async function withUnsentCheck(run: (discardUnsent: boolean) => Promise<unknown>): Promise<void> {
  try {
    await run(false);
  } catch (error) {
    if (!(error instanceof UnsentChangesError)) throw error;
    const count = error.messageIds.length;
    if (!confirm(`${count} message(s) have not reached the server yet. Discard them?`)) return;
    await run(true);
  }
}

async function start(): Promise<void> {
  const config = await fetchConfig();
  const client = createClient({
    appId: config.appId,
    relayUrl: config.relayUrl,
    clientInfo: { platform: "web", appVersion: "0.1.0" },
    onTokenExpired: (userId) => fetchUserToken(userId),
  });
  // What the user sees while the page is visible counts as read; marked before rendering the unread count.
  const markRead = () => {
    if (document.visibilityState === "visible") client.markRead();
  };
  for (const event of ["messages", "profile", "clients", "status", "identity"] as const) {
    client.on(event, () => {
      if (event === "messages") markRead();
      renderAll(client);
    });
  }
  client.on("error", (error) => showNotice(error.message));
  await client.ready;
  markRead();
  renderAll(client);
  document.addEventListener("visibilitychange", () => {
    markRead();
    renderAll(client);
  });

  // The text stays in the box until send() resolves, i.e. until the message is safe in this browser's store.
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.messageInput.value.trim();
    if (text === "" || ui.composer.ariaBusy === "true") return;
    ui.composer.ariaBusy = "true";
    client
      .send(text)
      .then(
        () => {
          if (ui.messageInput.value.trim() === text) ui.messageInput.value = "";
        },
        (error: unknown) => showNotice(error instanceof Error ? error.message : String(error)),
      )
      .finally(() => {
        ui.composer.ariaBusy = null;
      });
  });

  ui.loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const userId = ui.loginUserId.value.trim();
    void act([ui.loginSubmit, ui.logout], async () => {
      const jwt = await fetchUserToken(userId);
      await withUnsentCheck((discardUnsent) => client.login(userId, jwt, { discardUnsent }));
      ui.loginUserId.value = "";
      renderAll(client);
    });
  });

  ui.logout.addEventListener("click", () => {
    void act([ui.loginSubmit, ui.logout], async () => {
      await withUnsentCheck((discardUnsent) => client.logout({ discardUnsent }));
      renderAll(client);
    });
  });

  ui.profileForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const patch = readProfilePatch(ui.profileForm, client.profile());
    void act([], () => client.setProfile(patch));
  });
}

start().catch((error: unknown) => {
  ui.identity.textContent = "Could not start the chat";
  showNotice(error instanceof Error ? error.message : String(error));
  console.error(error);
});
