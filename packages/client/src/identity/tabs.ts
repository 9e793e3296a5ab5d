/**
 * Coordination between client instances that share one store ("tabs" of one origin), over a
 * BroadcastChannel named for the app and the store's device identity.
 *
 * - `identity`: "I changed the identity record" — the others re-read it and follow.
 * - `release` / `released`: "close your handles on room X" and its answer; a logout or switch waits for
 *   every known peer before it deletes the room's data (storage cannot erase what another tab holds open).
 * - `hello` / `here` / `bye`: presence, so a releaser knows whom to wait for.
 */
import { createSecret } from "@parley/protocol";

type TabMessage =
  | { type: "hello"; from: string }
  | { type: "here"; from: string; to: string }
  | { type: "bye"; from: string }
  | { type: "identity"; from: string }
  | { type: "release"; from: string; room: string; request: string }
  | { type: "released"; from: string; to: string; request: string };

export interface TabsOptions {
  name: string;
  /** Another instance changed the identity record. */
  onIdentityChanged: () => void;
  /** Another instance needs `room` released; resolve once this instance has closed its handles on it. */
  onRelease: (room: string) => Promise<void>;
}

const RELEASE_TIMEOUT_MS = 3_000;

export class Tabs {
  readonly id = createSecret();
  private readonly channel: BroadcastChannel;
  private readonly peers = new Set<string>();
  private readonly waiting = new Map<string, { pending: Set<string>; done: () => void }>();
  private readonly options: TabsOptions;
  private closed = false;

  constructor(options: TabsOptions) {
    this.options = options;
    this.channel = new BroadcastChannel(options.name);
    this.channel.onmessage = (event: MessageEvent<TabMessage>) => this.receive(event.data);
    this.post({ type: "hello", from: this.id });
  }

  /** Tells the other instances to re-read the identity record. */
  announceIdentity(): void {
    this.post({ type: "identity", from: this.id });
  }

  /** Asks every other instance to close its handles on `room`; resolves when all answered (or timed out). */
  release(room: string): Promise<void> {
    if (this.peers.size === 0) return Promise.resolve();
    const request = createSecret();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), RELEASE_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        const entry = this.waiting.get(request);
        this.waiting.delete(request);
        // A peer that did not answer in time is gone (a closed tab never says bye).
        for (const peer of entry?.pending ?? []) this.peers.delete(peer);
        resolve();
      };
      this.waiting.set(request, { pending: new Set(this.peers), done: finish });
      this.post({ type: "release", from: this.id, room, request });
    });
  }

  close(): void {
    if (this.closed) return;
    this.post({ type: "bye", from: this.id });
    this.closed = true;
    for (const entry of [...this.waiting.values()]) entry.done();
    this.channel.close();
  }

  private post(message: TabMessage): void {
    // A closed instance (a logout moves the tabs to the new client id's channel) has nothing left to say; work
    // still in flight from before the move must not throw on the closed channel.
    if (this.closed) return;
    this.channel.postMessage(message);
  }

  private receive(message: TabMessage): void {
    if (message.from === this.id) return;
    switch (message.type) {
      case "hello":
        this.peers.add(message.from);
        this.post({ type: "here", from: this.id, to: message.from });
        break;
      case "here":
        if (message.to === this.id) this.peers.add(message.from);
        break;
      case "bye":
        this.peers.delete(message.from);
        for (const entry of [...this.waiting.values()]) {
          entry.pending.delete(message.from);
          if (entry.pending.size === 0) entry.done();
        }
        break;
      case "identity":
        this.peers.add(message.from);
        this.options.onIdentityChanged();
        break;
      case "release":
        this.peers.add(message.from);
        this.options.onRelease(message.room).then(
          () => this.post({ type: "released", from: this.id, to: message.from, request: message.request }),
          () => this.post({ type: "released", from: this.id, to: message.from, request: message.request }),
        );
        break;
      case "released": {
        if (message.to !== this.id) break;
        const entry = this.waiting.get(message.request);
        if (entry === undefined) break;
        entry.pending.delete(message.from);
        if (entry.pending.size === 0) entry.done();
        break;
      }
    }
  }
}
