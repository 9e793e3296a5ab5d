/**
 * The webhook outbox's files: one `<id>.json` per delivery, always replaced whole (temp file, rename), and
 * flushed to the disk (file, then directory entry) where the relay's `fsync` policy asks for it.
 */
import { renameSync, writeFileSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FsyncPolicy } from "../../config/config.js";
import type { Logger } from "../../core/logger.js";
import type { Delivery } from "./webhook-queue.js";

/**
 * The deliveries a previous process left in `dir`: temp files of unfinished writes are removed, and a file that
 * does not parse is moved to `deadDir` (kept for the operator, never sent).
 */
export async function loadDeliveries(dir: string, deadDir: string, logger: Logger): Promise<Delivery[]> {
  await mkdir(deadDir, { recursive: true });
  const deliveries: Delivery[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith(".json")) {
      if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
      continue;
    }
    try {
      deliveries.push(JSON.parse(await readFile(join(dir, name), "utf8")) as Delivery);
    } catch (error) {
      logger.error("unreadable webhook delivery kept aside", { file: name, error });
      await rename(join(dir, name), join(deadDir, name)).catch(() => {});
    }
  }
  return deliveries;
}

/** Writes a new delivery's file (temp file, rename) synchronously, without waiting for the disk. */
export function writeDeliveryNow(dir: string, delivery: Delivery): void {
  const file = join(dir, `${delivery.id}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(delivery));
  renameSync(`${file}.tmp`, file);
}

/** Flushes a file {@link writeDeliveryNow} wrote, and its directory entry; a no-op once it is delivered. */
export async function flushDelivery(dir: string, id: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(join(dir, `${id}.json`), "r");
  } catch {
    return; // delivered and removed already
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await syncDir(dir);
}

/** Rewrites a delivery's file (its retry state), durably with `fsync: "batch"`. */
export async function persistDelivery(dir: string, delivery: Delivery, fsync: FsyncPolicy): Promise<void> {
  const file = join(dir, `${delivery.id}.json`);
  const temp = `${file}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(delivery));
    if (fsync === "batch") await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  if (fsync === "batch") await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
