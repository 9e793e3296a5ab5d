/**
 * One document's files under {@link FileStorage}, and the claim that fences its writers across processes.
 *
 * Under `<dataDir>/docs/<h[0..2]>/`, with `h = sha256(name)` in hex:
 * - `<h>.name`: the document's name, so `list` can read names from directory listings; written by a writer's
 *   first write (a claimed but never written document is not listed), removed first by `remove`.
 * - `<h>/fence.<E>`: an empty file per claim. `claim` creates `fence.<newest + 1>` with O_EXCL, so two
 *   claimers (two processes, or two instances in one) never get the same epoch, and the newest fence file
 *   in the directory is the one writer allowed. Claims delete older fence files, never newer ones.
 * - `<h>/manifest.<E>`: the document as epoch E's writer sees it, a JSON list of segments (record files,
 *   each read up to `end` bytes, or to its end if `end` is null), replaced atomically. A load reads the
 *   newest manifest whose epoch is not above the newest fence (none: the implied manifest, below).
 * - `<h>/log.<E>.<n>` and `<h>/snapshot.<E>.<n>`: record files written only by epoch E's writer.
 *
 * Why this fences a writer that is paused or slow, without locks: a writer only ever writes files named
 * with its own epoch. A claim first creates its fence, then copies the previous manifest into its own with
 * every segment sealed at its current length. A stale writer's bytes that land after that point are beyond
 * a sealed `end`, or in a file no newer manifest names, so no later load sees them; and since each write
 * checks after writing that its fence is still the newest, a write that resolved landed before the
 * claim's seal. A compaction's manifest is the commit point (crash before: old segments; after: the
 * snapshot); it deletes the replaced files only after that check, and any claim after the check
 * already reads the new manifest.
 *
 * The first claim. The first claim of an empty directory (`fence.1`: no older writer to seal out) writes
 * no manifest: while a document has none, it is the files of the layout before fencing (below) followed by
 * `log.1.0`, the first writer's log (the implied manifest). That is what epoch 1's manifest would say, and it
 * stays true until that writer's first compaction or removal writes a real one; a claim of epoch 2 or later
 * seals the implied manifest like any other. So opening a cold room costs a mkdir and a file create, and a
 * first write neither.
 *
 * Durability of a claim. A fence only matters between writers running at the same time, and those share
 * this machine's page cache (a data directory on a network filesystem is not supported): a fence file is
 * seen by every process the moment it is created, fsynced or not. A power loss ends every writer at once,
 * so afterwards no fence is held; what must survive it is only what acknowledged writes rest on. So a first
 * claim fsyncs nothing: its writer's first write creates its log and fsyncs the directory before it
 * acknowledges anything, which makes the fence's entry durable with the log's. If the power fails before
 * that, `fence.1` may be lost and epoch 1 handed out again, to a writer that finds nothing of the old one
 * (a claim never reuses an epoch that any file in the directory carries). A claim of a directory that
 * has files still writes its manifest durably before it returns: the seal is what keeps a stale writer's
 * later (refused) bytes out of every load, and a power loss that kept those bytes but dropped the seal
 * would bring them back.
 *
 * Directories written by earlier versions (`<h>.log`, `<h>.snapshot` next to `<h>.name`) are read as the
 * segments before the first manifest, and deleted by the first compaction.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { StorageError } from "@parley/protocol";
import { isErrno, readOptional, syncDirectory, writeFileAtomically } from "./file-records.js";
import type { Fence } from "./storage.js";

/** A record file of a document, read up to `end` bytes (to its end if null). */
export interface Segment {
  file: string;
  end: number | null;
  /** A snapshot segment must hold exactly one whole record; a log segment may end in a torn one. */
  kind: "snapshot" | "log";
}

/** What a manifest holds. */
export interface Manifest {
  segments: Segment[];
}

const SEGMENT_FILE = /^(?:(?:log|snapshot)\.\d+\.\d+|\.\.\/[0-9a-f]{64}\.(?:log|snapshot))$/;
const NUMBERED = /^(fence|manifest|log|snapshot)\.(\d+)(?:\.(\d+))?(\.tmp)?$/;

/** Parses a numbered file name of a document directory. */
export function parseFile(file: string): { kind: string; epoch: number; seq: number | null; temp: boolean } | null {
  const match = NUMBERED.exec(file);
  if (match === null) return null;
  return {
    kind: match[1]!,
    epoch: Number(match[2]),
    seq: match[3] === undefined ? null : Number(match[3]),
    temp: !!match[4],
  };
}

/** The newest epoch with a fence file among `entries`, 0 if none. */
export function newestFence(entries: string[]): Fence {
  let newest = 0;
  for (const entry of entries) {
    const parsed = parseFile(entry);
    if (parsed?.kind === "fence" && !parsed.temp && parsed.epoch > newest) newest = parsed.epoch;
  }
  return newest;
}

/** The newest epoch any numbered file among `entries` carries, 0 if none: a claim takes a newer one. */
function newestEpoch(entries: string[]): Fence {
  let newest = 0;
  for (const entry of entries) newest = Math.max(newest, parseFile(entry)?.epoch ?? 0);
  return newest;
}

/** The log of a first claim's writer, named by the implied manifest (see the module comment). */
const FIRST_LOG = "log.1.0";

/** The newest manifest epoch among `entries` that is at most `atMost`, or null. */
function newestManifest(entries: string[], atMost: number): number | null {
  let newest: number | null = null;
  for (const entry of entries) {
    const parsed = parseFile(entry);
    if (parsed?.kind !== "manifest" || parsed.temp || parsed.epoch > atMost) continue;
    if (newest === null || parsed.epoch > newest) newest = parsed.epoch;
  }
  return newest;
}

/** The files of one document. */
export class DocumentDir {
  readonly shard: string;
  readonly hash: string;
  readonly dir: string;
  readonly nameFile: string;
  /** Whether this instance has seen that the document has no files of the layout before fencing. */
  private legacyAbsent = false;

  constructor(
    root: string,
    readonly name: string,
    private readonly fsync: boolean,
  ) {
    this.hash = createHash("sha256").update(name).digest("hex");
    this.shard = join(root, this.hash.slice(0, 2));
    this.dir = join(this.shard, this.hash);
    this.nameFile = join(this.shard, `${this.hash}.name`);
  }

  /** The directory's entries, `[]` if it does not exist. */
  async entries(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if (isErrno(error, "ENOENT")) return [];
      throw error;
    }
  }

  /** The directory's entries if `fence` is still the newest claim, else null. */
  async ifNewest(fence: Fence): Promise<string[] | null> {
    const entries = await this.entries();
    return newestFence(entries) === fence ? entries : null;
  }

  /** Makes the caller the only writer; see the module comment. */
  async claim(): Promise<Fence> {
    const created = await this.makeDirectory();
    const entries = created ? [] : await this.entries();
    const first = newestEpoch(entries) + 1;
    let epoch = first;
    for (;;) {
      try {
        await (await open(join(this.dir, `fence.${epoch}`), "wx")).close();
        break;
      } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
        epoch++;
      }
    }
    // The first claim of an empty directory: the fence file alone (module comment, "The first claim").
    if (epoch === 1 && first === 1) return epoch;
    // Made durable with the manifest below (one directory fsync covers both entries): a claim that did not
    // reach it returned no fence, and its epoch may be handed out again.
    const base = await this.current(epoch - 1);
    const sealed: Segment[] = [];
    for (const segment of base.segments) {
      const size = segment.end ?? (await this.sizeOf(segment.file));
      // An empty log adds nothing now or later (sealed at 0): leaving it out keeps the manifests of rooms that
      // are claimed again and again without writing from growing by one segment per claim.
      if (size === 0 && segment.kind === "log") continue;
      sealed.push({ ...segment, end: size });
    }
    const manifest: Manifest = { segments: [...sealed, { file: `log.${epoch}.0`, end: null, kind: "log" }] };
    await this.writeManifest(epoch, manifest);
    await this.sweep(epoch, manifest);
    return epoch;
  }

  /**
   * The manifest `epoch`'s writer starts from: its own, or for the first claim the implied one while no
   * manifest exists. Null if there is none for it: the writer is fenced.
   */
  async writerManifest(epoch: Fence, entries: string[]): Promise<Manifest | null> {
    const own = await this.readManifest(epoch);
    if (own !== null || epoch !== 1 || entries.some((entry) => parseFile(entry)?.kind === "manifest")) return own;
    return this.implied([FIRST_LOG]);
  }

  /** Writes the name file if it is missing. */
  async ensureNamed(): Promise<void> {
    if ((await readOptional(this.nameFile)) !== null) return;
    await writeFileAtomically(this.nameFile, this.name, this.fsync);
    if (this.fsync) await syncDirectory(this.shard);
  }

  /** The newest manifest at or below `atMost` (legacy files, or nothing, if there is none). */
  async current(atMost: number, listed?: string[]): Promise<Manifest> {
    // A compaction or claim may delete the manifest between the listing and the read: list again.
    for (let attempt = 0; ; attempt++) {
      const entries = attempt === 0 && listed !== undefined ? listed : await this.entries();
      const epoch = newestManifest(entries, atMost);
      if (epoch === null) return this.implied(entries);
      const manifest = await this.readManifest(epoch);
      if (manifest !== null) return manifest;
      if (attempt >= 10) throw new StorageError(`manifest of ${this.name} keeps disappearing`);
    }
  }

  /** The manifest of `epoch`, or null if it does not exist. */
  async readManifest(epoch: Fence): Promise<Manifest | null> {
    const bytes = await readOptional(join(this.dir, `manifest.${epoch}`));
    if (bytes === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      throw new StorageError(`manifest of ${this.name} is corrupt`, { cause: error });
    }
    const segments = (parsed as Partial<Manifest> | null)?.segments;
    if (
      !Array.isArray(segments) ||
      !segments.every(
        (s: Partial<Segment>) =>
          typeof s.file === "string" &&
          SEGMENT_FILE.test(s.file) &&
          (s.end === null || Number.isSafeInteger(s.end)) &&
          (s.kind === "log" || s.kind === "snapshot"),
      )
    ) {
      throw new StorageError(`manifest of ${this.name} is corrupt`);
    }
    return { segments };
  }

  /** Replaces the manifest of `epoch` atomically (the commit point of claims, compactions and removals). */
  async writeManifest(epoch: Fence, manifest: Manifest): Promise<void> {
    await writeFileAtomically(join(this.dir, `manifest.${epoch}`), JSON.stringify(manifest), this.fsync);
    if (this.fsync) await syncDirectory(this.dir);
  }

  /** Path of a segment file. */
  path(file: string): string {
    return join(this.dir, file);
  }

  /**
   * Deletes what a claim of `epoch` made unreachable: older fences and manifests, and files of older
   * epochs its manifest does not name (a stale writer's later bytes, a crashed compaction's leftovers).
   */
  async sweep(epoch: Fence, manifest: Manifest): Promise<void> {
    const named = new Set(manifest.segments.map((segment) => segment.file));
    for (const entry of (await this.entries()).sort(byEpoch)) {
      const parsed = parseFile(entry);
      if (parsed === null || parsed.epoch >= epoch || named.has(entry)) continue;
      await rm(join(this.dir, entry), { force: true });
    }
  }

  /** Deletes segment files that `before` named and `after` does not. */
  async dropReplaced(before: Manifest, after: Manifest): Promise<void> {
    const kept = new Set(after.segments.map((segment) => segment.file));
    for (const segment of before.segments) {
      if (!kept.has(segment.file)) await rm(this.path(segment.file), { force: true });
    }
    if (this.fsync) await syncDirectory(this.dir);
  }

  /**
   * The implied manifest (module comment): the files of the layout before fencing, then the first writer's
   * log if `entries` lists it (a load that listed no log has nothing of it to read).
   */
  private async implied(entries: string[]): Promise<Manifest> {
    const { segments } = await this.legacy();
    if (entries.includes(FIRST_LOG)) segments.push({ file: FIRST_LOG, end: null, kind: "log" });
    return { segments };
  }

  private async legacy(): Promise<Manifest> {
    if (this.legacyAbsent) return { segments: [] };
    const segments: Segment[] = [];
    for (const kind of ["snapshot", "log"] as const) {
      const file = `../${this.hash}.${kind}`;
      if ((await this.sizeOf(file)) > 0) segments.push({ file, end: null, kind });
    }
    // This version never creates these files, so once absent they stay absent: later loads skip the stats.
    this.legacyAbsent = segments.length === 0;
    return { segments };
  }

  /** Creates the document's directory (and its shard if needed); true if this call created it. */
  private async makeDirectory(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(this.dir);
        return true;
      } catch (error) {
        if (isErrno(error, "EEXIST")) return false;
        if (!isErrno(error, "ENOENT") || attempt > 0) throw error;
        await mkdir(this.shard, { recursive: true });
      }
    }
  }

  private async sizeOf(file: string): Promise<number> {
    try {
      return (await stat(this.path(file))).size;
    } catch (error) {
      if (isErrno(error, "ENOENT")) return 0;
      throw error;
    }
  }
}

/** Fences are deleted oldest first, so a newer fence never disappears while an older one is still there. */
function byEpoch(a: string, b: string): number {
  return (parseFile(a)?.epoch ?? 0) - (parseFile(b)?.epoch ?? 0);
}
