/**
 * The byte-level pieces of {@link FileStorage}: checksummed records, and writing files so that they are
 * durable and appear whole (temp file, fsync, rename, fsync of the directory).
 *
 * A record is `u32le length | u32le crc32(payload) | payload`. A record torn by a crash mid-write fails
 * its length or checksum; readers stop at it.
 */
import { writeSync } from "node:fs";
import { type FileHandle, open, readFile, rename } from "node:fs/promises";
import { crc32 } from "node:zlib";

const HEADER_BYTES = 8;
/** Records above this are treated as corruption rather than allocated. */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;

/** Frames one record. */
export function encodeRecord(payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  record.set(payload, HEADER_BYTES);
  return record;
}

/** Reads framed records up to the first incomplete or corrupt one; returns them and where valid data ends. */
export function decodeRecords(bytes: Uint8Array): { records: Uint8Array[]; validBytes: number } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const length = buffer.readUInt32LE(offset);
    const checksum = buffer.readUInt32LE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES || end > buffer.length) break;
    const payload = buffer.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== checksum) break;
    records.push(new Uint8Array(payload));
    offset = end;
  }
  return { records, validBytes: offset };
}

/** Whether `error` is a Node file-system error with this code. */
export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

/** The file's bytes, or `null` if it does not exist. */
export async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
}

/** Makes the directory's entries (created, renamed, removed files) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `path` so that it appears whole or not at all, durably if `fsync`. */
export async function writeFileAtomically(path: string, bytes: Uint8Array | string, fsync: boolean): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(bytes);
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** Writes all of `bytes` at the handle's position with synchronous write() calls. */
export function writeAllSync(handle: FileHandle, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(handle.fd, bytes, offset, bytes.length - offset);
}

/** Writes all of `bytes` at the handle's position. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
