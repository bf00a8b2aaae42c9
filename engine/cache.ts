/**
 * The on-disk stage cache. One file per entry, `<dir>/<stage>/<key>.bin`:
 *
 * | bytes | field |
 * | --- | --- |
 * | 8 | magic `MNPCACHE` |
 * | 4 | format version (u32 LE) |
 * | 4 | reserved, 0 |
 * | 32 | stage key (SHA-256) |
 * | 8 | payload length (u64 LE) |
 * | 32 | SHA-256 of the payload |
 * | n | payload |
 *
 * Entries are written to a temp file and renamed into place, and every field is
 * verified on read; a bad entry raises {@linkcode CacheError}.
 *
 * @module
 */
import { writeFileAtomic } from "./files.ts";
import { CacheError } from "./errors.ts";
import { sha256, toHex } from "./hash.ts";

const MAGIC = new TextEncoder().encode("MNPCACHE");
const FORMAT_VERSION = 1;
/** Header size; a multiple of 8 so payload blobs stay aligned. */
const HEADER = 88;

/** Where a stage's entry lives. */
export function entryPath(dir: string, stage: string, key: string): string {
  return `${dir}/${stage}/${key}.bin`;
}

/** True when an entry file exists (it may still fail verification). */
export async function hasEntry(dir: string, stage: string, key: string): Promise<boolean> {
  try {
    return (await Deno.stat(entryPath(dir, stage, key))).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Writes an entry atomically: temp file in the same folder, then rename. */
export async function writeEntry(
  dir: string,
  stage: string,
  key: string,
  payload: Uint8Array,
): Promise<void> {
  const header = new Uint8Array(HEADER);
  const view = new DataView(header.buffer);
  header.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  header.set(hexToBytes(key), 16);
  view.setBigUint64(48, BigInt(payload.length), true);
  header.set(await sha256(payload), 56);
  const path = entryPath(dir, stage, key);
  await Deno.mkdir(`${dir}/${stage}`, { recursive: true });
  // No fsync: an entry a crash left torn fails its checksum on read and is recomputed.
  await writeFileAtomic(path, [header, payload], { sync: false });
}

/**
 * Reads and verifies an entry; returns its payload, or null when there is none.
 * Throws {@linkcode CacheError} naming the broken rule when the entry is damaged.
 */
export async function readEntry(
  dir: string,
  stage: string,
  key: string,
): Promise<Uint8Array | null> {
  const path = entryPath(dir, stage, key);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const fail = (rule: string) =>
    new CacheError(`Cannot use cache entry "${path}" as ${rule}; it will be recomputed`);
  if (bytes.length < HEADER) {
    throw fail(`it must hold a ${HEADER}-byte header: it holds ${bytes.length} bytes`);
  }
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw fail("its magic must be MNPCACHE");
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw fail(`its format version must be ${FORMAT_VERSION}: current value is ${version}`);
  }
  const storedKey = toHex(bytes.subarray(16, 48));
  if (storedKey !== key) throw fail(`its key must be ${key}: current value is ${storedKey}`);
  const length = Number(view.getBigUint64(48, true));
  if (length !== bytes.length - HEADER) {
    throw fail(`its payload must be ${length} bytes: current value is ${bytes.length - HEADER}`);
  }
  const payload = bytes.subarray(HEADER);
  const checksum = toHex(await sha256(payload));
  if (checksum !== toHex(bytes.subarray(56, 88))) throw fail("its checksum must match its payload");
  return payload;
}
