/**
 * The file store's attestation key: 32 random bytes in `<dataDir>/attestation.key`, made once and kept for the
 * life of the data directory, so a restarted relay (or another process on the same directory) verifies the
 * tags it handed out before (see `attestation.ts` in @parley/protocol).
 */
import { randomBytes } from "node:crypto";
import { link, open, readFile, unlink } from "node:fs/promises";
import { StorageError } from "@parley/protocol";
import { isErrno, syncDirectory } from "./file-records.js";

/** Length of an attestation key in bytes. */
export const ATTESTATION_KEY_BYTES = 32;

/**
 * Reads the key at `path`, creating it first if there is none. Creation writes and syncs a temporary file and
 * then hard-links it into place, which fails if the name exists: two processes racing both end up reading the
 * one key that won, never a half-written one.
 */
export async function loadOrCreateKey(path: string, fsync: boolean): Promise<Uint8Array> {
  const existing = await readKey(path);
  if (existing !== null) return existing;
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temporary, "wx", 0o600);
  try {
    await handle.writeFile(randomBytes(ATTESTATION_KEY_BYTES));
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    if (fsync) await syncDirectory(dirnameOf(path));
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
  } finally {
    await unlink(temporary);
  }
  const key = await readKey(path);
  if (key === null) throw new StorageError(`attestation key ${path} vanished while it was created`);
  return key;
}

async function readKey(path: string): Promise<Uint8Array | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
  if (bytes.length !== ATTESTATION_KEY_BYTES) {
    throw new StorageError(`attestation key ${path} is ${bytes.length} bytes, not ${ATTESTATION_KEY_BYTES}`);
  }
  return new Uint8Array(bytes);
}

function dirnameOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}
