/**
 * The identity record a client keeps in its store, and the lock around changing it.
 *
 * `clientSecret` names this store as a device until the next logout or switch to another user, each of which
 * draws a new one (unless the app opts in to `stableDeviceId`). `current` is who the device speaks for: an anonymous user (by secret) or a userId with its latest JWT and, until the relay
 * has merged it, the secret of the anonymous user it logged in from. `nonce` names the channel on which
 * tabs of the same identity exchange document updates; it is drawn anew for every identity so two users
 * never share one.
 */
import { createSecret, isSecret, StorageError } from "@parley/protocol";
import type { ClientStorage, StoredValue } from "../storage/storage.js";

/** Storage key of an app's identity record (one store may serve several apps on one origin). */
export function identityKey(appId: string): string {
  return `identity/${appId}`;
}

export interface AnonymousSubject {
  kind: "anonymous";
  secret: string;
  nonce: string;
  /**
   * The relay refused to merge this anonymous thread into a user's (4409 `merge`): it never will, so a later
   * login from this subject asks for no merge and proceeds as a switch of users.
   */
  mergeRefused?: true;
}

export interface UserSubject {
  kind: "user";
  userId: string;
  token: string;
  nonce: string;
  /** Secret of the anonymous user whose thread the relay has yet to merge into this user's. */
  pendingMerge?: string;
}

export type Subject = AnonymousSubject | UserSubject;

export interface IdentityRecord {
  clientSecret: string;
  current: Subject;
}

/** A new anonymous subject with a fresh secret and nonce. */
export function newAnonymousSubject(): AnonymousSubject {
  return { kind: "anonymous", secret: createSecret(), nonce: createSecret() };
}

function isString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function parseSubject(value: unknown): Subject | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (!isSecret(v.nonce)) return null;
  if (v.kind === "anonymous" && isSecret(v.secret)) {
    const subject: AnonymousSubject = { kind: "anonymous", secret: v.secret, nonce: v.nonce };
    if (v.mergeRefused === true) subject.mergeRefused = true;
    return subject;
  }
  if (v.kind === "user" && isString(v.userId) && isString(v.token)) {
    const subject: UserSubject = { kind: "user", userId: v.userId, token: v.token, nonce: v.nonce };
    if (v.pendingMerge !== undefined) {
      if (!isSecret(v.pendingMerge)) return null;
      subject.pendingMerge = v.pendingMerge;
    }
    return subject;
  }
  return null;
}

/** Reads the identity record; `undefined` if there is none, a {@link StorageError} if it is corrupt. */
export async function readIdentity(storage: ClientStorage, appId: string): Promise<IdentityRecord | undefined> {
  const value = await storage.get(identityKey(appId));
  if (value === undefined) return undefined;
  if (value !== null && typeof value === "object" && !Array.isArray(value) && isSecret(value.clientSecret)) {
    const current = parseSubject(value.current);
    if (current !== null) return { clientSecret: value.clientSecret, current };
  }
  throw new StorageError("the stored identity record is corrupt");
}

/** Writes the identity record durably. */
export async function writeIdentity(storage: ClientStorage, appId: string, record: IdentityRecord): Promise<void> {
  await storage.set(identityKey(appId), record as unknown as StoredValue);
}

/** Whether two subjects are the same user (ignoring token refreshes and merge progress). */
export function sameSubject(a: Subject, b: Subject): boolean {
  if (a.kind === "anonymous") return b.kind === "anonymous" && a.secret === b.secret && a.nonce === b.nonce;
  return b.kind === "user" && a.userId === b.userId && a.nonce === b.nonce;
}

const inProcessLocks = new WeakMap<object, Promise<unknown>>();

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * Runs `task` while holding the identity lock of `storage`, so two tabs creating or switching the
 * identity at once cannot fork it. Uses the Web Locks API where present (it spans tabs), else an
 * in-process queue per store object (tabs in one process share the object).
 */
export async function withIdentityLock<T>(storage: ClientStorage, appId: string, task: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks !== undefined) return locks.request(`parley/${appId}/identity`, task);
  const previous = inProcessLocks.get(storage) ?? Promise.resolve();
  const run = previous.then(task, task);
  inProcessLocks.set(
    storage,
    run.catch(() => {}),
  );
  return run;
}
