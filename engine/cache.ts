/**
 * The on-disk stage cache. An entry is one file, `<dir>/<stage>/<key>.bin`, or
 * one per split for a data set (`<key>.train.bin`, `<key>.test.bin`), written
 * as its frames pass and read back as a stream:
 *
 * | bytes | field |
 * | --- | --- |
 * | 8 | magic `MNPCACHE` |
 * | 4 | format version, u32 LE (2) |
 * | 4 | meta length m, u32 LE |
 * | 32 | stage key (SHA-256) |
 * | m, padded to 8 | meta, UTF-8 JSON (what the stage records about its output) |
 * | per frame: 4 | `CHNK` |
 * | 4 | frame number, u32 LE, from 0 (a dropped or moved frame shows at once) |
 * | 8 | payload length n, u64 LE |
 * | 32 | SHA-256 of the payload |
 * | n, padded to 8 | payload (a chunk, or a whole value) |
 * | trailer: 4 | `DONE` |
 * | 4 | reserved, 0 |
 * | 8 | frame count, u64 LE |
 * | 8 | payload bytes in all, u64 LE |
 * | 32 | digest: SHA-256 over the header and every frame's SHA-256, in order |
 *
 * An entry is written to a temp file and renamed into place after its trailer,
 * so a listed entry is whole unless the disk lost it; every field is verified
 * as it is read, and a damaged, truncated or reordered entry raises
 * {@linkcode CacheError}, which the runner reports once and recomputes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { checkInterrupted, onCleanup, removeSyncQuietly } from "./cleanup.ts";
import { CacheError } from "./errors.ts";
import { TEMP_PREFIX } from "./files.ts";
import type { Json } from "./stage.ts";

const MAGIC = new TextEncoder().encode("MNPCACHE");
const FRAME_TAG = new TextEncoder().encode("CHNK");
const TRAILER_TAG = new TextEncoder().encode("DONE");
/** The cache format version; entries of another version are recomputed. */
export const CACHE_FORMAT_VERSION = 2;
const HEADER = 48;
const FRAME_HEADER = 48;
const TRAILER = 56;
const align8 = (n: number) => (n + 7) & ~7;

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Where an entry (or one split of a data entry, `part`) lives. */
export function entryPath(dir: string, stage: string, key: string, part?: string): string {
  return `${dir}/${stage}/${key}${part ? `.${part}` : ""}.bin`;
}

/** True when every part of an entry exists (each may still fail verification). */
export async function hasEntry(
  dir: string,
  stage: string,
  key: string,
  parts: readonly (string | undefined)[] = [undefined],
): Promise<boolean> {
  for (const part of parts) {
    try {
      if (!(await Deno.stat(entryPath(dir, stage, key, part))).isFile) return false;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return false;
      }
      throw error;
    }
  }
  return true;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/**
 * Writes one entry frame by frame into a temp file beside its final name;
 * `commit` adds the trailer and renames it into place, `abort` removes it.
 */
export class EntryWriter {
  #file: Deno.FsFile | null;
  #digest = createHash("sha256");
  #frames = 0;
  #bytes = 0;
  #finished = false;
  #forget: () => void;

  private constructor(
    file: Deno.FsFile,
    /** The temp file being written. */
    readonly tempPath: string,
    /** Where the entry goes on commit. */
    readonly path: string,
    forget: () => void,
  ) {
    this.#file = file;
    this.#forget = forget;
  }

  /** Starts an entry: creates the folder and the temp file and writes the header with `meta`. */
  static async create(
    dir: string,
    stage: string,
    key: string,
    meta: Json,
    part?: string,
  ): Promise<EntryWriter> {
    const path = entryPath(dir, stage, key, part);
    await Deno.mkdir(`${dir}/${stage}`, { recursive: true });
    const name = path.slice(path.lastIndexOf("/") + 1);
    const tempPath = `${dir}/${stage}/${TEMP_PREFIX}${name}-${crypto.randomUUID().slice(0, 8)}`;
    // Ctrl-C removes the temp file; a committed or aborted entry unregisters. Registered before
    // the file exists, and checked after: a signal's cleanups may run while the open is pending.
    const forget = onCleanup(() => removeSyncQuietly(tempPath));
    let file: Deno.FsFile | null = null;
    try {
      file = await Deno.open(tempPath, { write: true, createNew: true });
      checkInterrupted();
    } catch (error) {
      if (file) {
        file.close();
        removeSyncQuietly(tempPath);
      }
      forget();
      throw error;
    }
    const writer = new EntryWriter(file, tempPath, path, forget);
    const json = new TextEncoder().encode(JSON.stringify(meta));
    const header = new Uint8Array(HEADER + align8(json.length));
    const view = new DataView(header.buffer);
    header.set(MAGIC, 0);
    view.setUint32(8, CACHE_FORMAT_VERSION, true);
    view.setUint32(12, json.length, true);
    header.set(hexToBytes(key), 16);
    header.set(json, HEADER);
    writer.#digest.update(header);
    try {
      await writeAll(file, header);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  /** Appends one frame. */
  async append(payload: Uint8Array): Promise<void> {
    const file = this.#open("append a frame");
    const head = new Uint8Array(FRAME_HEADER);
    const view = new DataView(head.buffer);
    head.set(FRAME_TAG, 0);
    view.setUint32(4, this.#frames, true);
    view.setBigUint64(8, BigInt(payload.length), true);
    const checksum = sha256(payload);
    head.set(checksum, 16);
    this.#digest.update(checksum);
    await writeAll(file, head);
    await writeAll(file, payload);
    const pad = align8(payload.length) - payload.length;
    if (pad > 0) await writeAll(file, new Uint8Array(pad));
    this.#frames++;
    this.#bytes += payload.length;
  }

  /** Writes the trailer and closes the temp file; the entry is whole but not yet in place. */
  async finish(): Promise<void> {
    const file = this.#open("finish");
    const trailer = new Uint8Array(TRAILER);
    const view = new DataView(trailer.buffer);
    trailer.set(TRAILER_TAG, 0);
    view.setBigUint64(8, BigInt(this.#frames), true);
    view.setBigUint64(16, BigInt(this.#bytes), true);
    trailer.set(this.#digest.digest(), 24);
    try {
      await writeAll(file, trailer);
      file.close();
      this.#file = null;
      this.#finished = true;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Renames a finished entry into place (no fsync: entries are verified on read). */
  async publish(): Promise<void> {
    if (!this.#finished) {
      throw new Error(`Cannot publish cache entry "${this.path}" as it must be finished first`);
    }
    try {
      await Deno.rename(this.tempPath, this.path);
      this.#forget();
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Writes the trailer and renames the entry into place. */
  async commit(): Promise<void> {
    await this.finish();
    await this.publish();
  }

  /** Drops the entry: closes and removes the temp file; safe to call twice. */
  async abort(): Promise<void> {
    try {
      this.#file?.close();
    } catch {
      // Already closed by a failed write.
    }
    this.#file = null;
    this.#finished = false;
    await Deno.remove(this.tempPath).catch(() => {});
    this.#forget();
  }

  #open(action: string): Deno.FsFile {
    if (!this.#file) {
      throw new Error(`Cannot ${action} on cache entry "${this.path}" as it is already closed`);
    }
    return this.#file;
  }
}

/** An entry opened for reading: its verified header, and its frames as a stream. */
export interface EntryReader {
  /** The entry's file. */
  path: string;
  /** What the stage recorded about its output. */
  meta: Json;
  /** Reads the frames in order, verifying each and then the trailer; one pass per reader. */
  frames(): AsyncGenerator<Uint8Array, void, undefined>;
  /** Closes the file when the frames are not read to the end. */
  close(): void;
}

/**
 * Opens an entry and verifies its header; returns null when there is none.
 * Throws {@linkcode CacheError} naming the broken rule when it is damaged.
 */
export async function openEntry(
  dir: string,
  stage: string,
  key: string,
  part?: string,
): Promise<EntryReader | null> {
  const path = entryPath(dir, stage, key, part);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw new CacheError(
      `Cannot use cache entry "${path}" as it must be readable: ${(error as Error).message}; ` +
        `it will be recomputed`,
    );
  }
  const fail = (rule: string) => {
    try {
      file.close();
    } catch {
      // Closed already.
    }
    return new CacheError(`Cannot use cache entry "${path}" as ${rule}; it will be recomputed`);
  };
  const size = (await file.stat()).size;
  let position = 0;
  const read = async (length: number, what: string): Promise<Uint8Array> => {
    if (position + length > size) {
      throw fail(`its ${what} must fit in the file: it is cut short at byte ${size}`);
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const n = await file.read(out.subarray(filled));
      if (n === null) throw fail(`its ${what} must be complete: the file ends at byte ${position}`);
      filled += n;
    }
    position += length;
    return out;
  };

  const header = await read(HEADER, "header");
  if (!equalBytes(header.subarray(0, 8), MAGIC)) throw fail("its magic must be MNPCACHE");
  const view = new DataView(header.buffer);
  const version = view.getUint32(8, true);
  if (version !== CACHE_FORMAT_VERSION) {
    throw fail(`its format version must be ${CACHE_FORMAT_VERSION}: current value is ${version}`);
  }
  const storedKey = toHex(header.subarray(16, 48));
  if (storedKey !== key) throw fail(`its key must be ${key}: current value is ${storedKey}`);
  const json = await read(align8(view.getUint32(12, true)), "meta");
  const digest = createHash("sha256").update(header).update(json);
  let meta: Json;
  try {
    meta = JSON.parse(new TextDecoder().decode(json.subarray(0, view.getUint32(12, true))));
  } catch {
    throw fail("its meta must be JSON");
  }

  async function* frames(): AsyncGenerator<Uint8Array, void, undefined> {
    let count = 0, bytes = 0;
    try {
      while (true) {
        const head = await read(8, "frame or trailer tag");
        if (equalBytes(head.subarray(0, 4), TRAILER_TAG)) break;
        if (!equalBytes(head.subarray(0, 4), FRAME_TAG)) {
          throw fail(`frame ${count + 1} must start with CHNK or DONE at byte ${position - 8}`);
        }
        const number = new DataView(head.buffer).getUint32(4, true);
        if (number !== count) {
          throw fail(`frame ${count + 1} must be numbered ${count}: it is numbered ${number}`);
        }
        const rest = await read(FRAME_HEADER - 8, `frame ${count + 1} header`);
        const length = Number(new DataView(rest.buffer).getBigUint64(0, true));
        const payload = await read(length, `frame ${count + 1}`);
        if (length % 8 !== 0) await read(align8(length) - length, `frame ${count + 1} padding`);
        const checksum = sha256(payload);
        if (!equalBytes(checksum, rest.subarray(8, 40))) {
          throw fail(`frame ${count + 1} must match its checksum`);
        }
        digest.update(checksum);
        count++;
        bytes += length;
        yield payload;
      }
      const tail = await read(TRAILER - 8, "trailer");
      const tailView = new DataView(tail.buffer);
      const storedCount = Number(tailView.getBigUint64(0, true));
      const storedBytes = Number(tailView.getBigUint64(8, true));
      if (storedCount !== count || storedBytes !== bytes) {
        throw fail(
          `its trailer must count the frames read: it says ${storedCount} frames of ` +
            `${storedBytes} bytes, the file holds ${count} of ${bytes}`,
        );
      }
      if (!equalBytes(digest.digest(), tail.subarray(16, 48))) {
        throw fail("its digest must match its header and frames");
      }
      if (position !== size) {
        throw fail(`it must end after its trailer: ${size - position} bytes follow`);
      }
    } finally {
      try {
        file.close();
      } catch {
        // Closed by fail().
      }
    }
  }

  return {
    path,
    meta,
    frames,
    close() {
      try {
        file.close();
      } catch {
        // Closed already.
      }
    },
  };
}

/** Writes a whole value as a one-frame entry, atomically. */
export async function writeValueEntry(
  dir: string,
  stage: string,
  key: string,
  payload: Uint8Array,
): Promise<void> {
  const writer = await EntryWriter.create(dir, stage, key, null);
  try {
    await writer.append(payload);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  await writer.commit();
}

/**
 * Reads a one-frame entry and verifies all of it; returns its payload, or null
 * when there is none. Throws {@linkcode CacheError} when it is damaged.
 */
export async function readValueEntry(
  dir: string,
  stage: string,
  key: string,
): Promise<Uint8Array | null> {
  const reader = await openEntry(dir, stage, key);
  if (!reader) return null;
  const payloads: Uint8Array[] = [];
  for await (const payload of reader.frames()) payloads.push(payload);
  if (payloads.length !== 1) {
    throw new CacheError(
      `Cannot use cache entry "${reader.path}" as a value entry must hold one frame: it holds ` +
        `${payloads.length}; it will be recomputed`,
    );
  }
  return payloads[0];
}
