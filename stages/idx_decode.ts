/**
 * IDX decode: streams IDX files (raw or gzip, sniffed by magic, one or more
 * members) into uint8 chunks, checking the header, the counts against the data
 * size, and labels. Nothing is allocated from what a header declares: buffers
 * grow as data arrives, and a stream that holds more than its header declares
 * is refused as soon as the excess appears, so a gzip bomb stops early.
 *
 * IDX layout: two zero bytes, a type byte (0x08 = unsigned byte), a dimension
 * count, then one big-endian u32 per dimension, then the data.
 *
 * @module
 */
import { createHash } from "node:crypto";
import zlib from "node:zlib";
import {
  type Chunk,
  CHUNK_IMAGES,
  collect,
  type DataMeta,
  type DataSet,
  type Split,
} from "../engine/chunk.ts";
import { InputError } from "../engine/errors.ts";
import type { DataStage, StageContext } from "../engine/stage.ts";

/** The IDX type byte for unsigned bytes, the only type MNIST-like files use. */
const UBYTE = 0x08;

/** A parsed IDX header. */
export interface IdxHeader {
  /** Magic number, e.g. 0x00000803 for (n, rows, cols) unsigned bytes. */
  magic: number;
  /** Dimensions, items first: `[n]` for labels, `[n, rows, cols]` for images. */
  dims: number[];
}

/** A run of whole items from an IDX file. */
export interface IdxBlock {
  /** The file's header. */
  header: IdxHeader;
  /** Whole items, `itemSize` bytes each. */
  data: Uint8Array;
}

/** Options of {@linkcode IdxDecoderStream}. */
export interface IdxDecoderOptions {
  /** File name used in error messages. */
  source: string;
  /** Required number of dimensions: 1 for labels, 3 for images. */
  dimensions: number;
  /** The whole file's size when known (raw files), checked against the header before any data. */
  byteLength?: number;
  /** Runs each step of the decoding, so a caller can count it as its work. @default {run it} */
  timer?: <T>(work: () => T) => T;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/**
 * Transforms the bytes of one IDX file into blocks of whole items, checking
 * the magic number and that the data is exactly as long as the header declares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdxDecoderStream } from "./idx_decode.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * const blocks = await Array.fromAsync(
 *   ReadableStream.from([bytes]).pipeThrough(
 *     new IdxDecoderStream({ source: "labels", dimensions: 1 }),
 *   ),
 * );
 * assert.deepEqual([...blocks[0].data], [7, 9]);
 * ```
 */
export class IdxDecoderStream extends TransformStream<Uint8Array, IdxBlock> {
  /** Creates a decoder for one file. */
  constructor(options: IdxDecoderOptions) {
    const { source, dimensions, byteLength, timer = (work) => work() } = options;
    const expectedMagic = (UBYTE << 8) | dimensions;
    const fail = (rule: string, hint?: string) =>
      new InputError(
        `Cannot decode IDX file "${source}" as ${rule}${hint ? `. Hint: ${hint}` : ""}`,
      );
    let head = new Uint8Array(0);
    let header: IdxHeader | null = null;
    let itemSize = 1;
    let expected = 0;
    let received = 0;
    let carry = new Uint8Array(0);

    /** Parses the header once complete; returns the data bytes that followed it, or null. */
    const parseHeader = (): Uint8Array | null => {
      if (head.length < 4) return null;
      const view = new DataView(head.buffer, head.byteOffset, head.length);
      const magic = view.getUint32(0);
      if (magic !== expectedMagic) {
        throw fail(
          `magic number must be ${hex8(expectedMagic)}: current value is ${hex8(magic)}`,
          magic === 0x1f8b0800 || (magic >>> 16) === 0x1f8b
            ? "the file looks gzip-compressed but could not be read as gzip"
            : dimensions === 3
            ? "is this a labels file (0x00000801) in place of an images file?"
            : "is this an images file (0x00000803) in place of a labels file?",
        );
      }
      const headerSize = 4 + 4 * dimensions;
      if (head.length < headerSize) return null;
      const dims = Array.from({ length: dimensions }, (_, i) => view.getUint32(4 + 4 * i));
      if (dims.some((d) => d === 0)) {
        throw fail(`every dimension must be at least 1: current value is [${dims.join(", ")}]`);
      }
      header = { magic, dims };
      itemSize = dims.slice(1).reduce((a, b) => a * b, 1);
      expected = dims[0] * itemSize;
      if (byteLength !== undefined && headerSize + expected !== byteLength) {
        const held = byteLength - headerSize;
        throw fail(
          `its header declares ${dims.join("×")} = ${expected} data bytes: the file holds ${held}` +
            (held < expected ? " (truncated)" : ""),
          held < expected
            ? "the file is truncated; fetch it again"
            : "the header or the file is damaged",
        );
      }
      const rest = head.subarray(headerSize);
      head = new Uint8Array(0);
      return rest;
    };

    const acceptData = (
      bytes: Uint8Array,
      controller: TransformStreamDefaultController<IdxBlock>,
    ) => {
      received += bytes.length;
      if (received > expected) {
        throw fail(
          `its header declares ${
            header!.dims.join("×")
          } = ${expected} data bytes: the file holds more (at least ${received})`,
          "the header or the file is damaged",
        );
      }
      let data = bytes;
      if (carry.length > 0) {
        const need = itemSize - carry.length;
        const joined = new Uint8Array(carry.length + Math.min(need, data.length));
        joined.set(carry);
        joined.set(data.subarray(0, need), carry.length);
        data = data.subarray(Math.min(need, data.length));
        if (joined.length < itemSize) {
          carry = joined;
          return;
        }
        controller.enqueue({ header: header!, data: joined });
        carry = new Uint8Array(0);
      }
      const whole = data.length - (data.length % itemSize);
      // A view, not a copy: each read hands over a fresh buffer, and the chunker copies anyway.
      if (whole > 0) controller.enqueue({ header: header!, data: data.subarray(0, whole) });
      if (whole < data.length) carry = data.slice(whole);
    };

    const accept = (bytes: Uint8Array, controller: TransformStreamDefaultController<IdxBlock>) => {
      if (header) return acceptData(bytes, controller);
      const joined = new Uint8Array(head.length + bytes.length);
      joined.set(head);
      joined.set(bytes, head.length);
      head = joined;
      const rest = parseHeader();
      if (rest && rest.length > 0) acceptData(rest, controller);
    };
    super({
      transform: (bytes, controller) => timer(() => accept(bytes, controller)),
      flush() {
        if (!header) {
          throw fail(
            `it must start with a ${
              4 + 4 * dimensions
            }-byte header: the file holds ${head.length} bytes`,
            "the file is empty or truncated",
          );
        }
        if (received < expected) {
          throw fail(
            `its header declares ${
              header.dims.join("×")
            } = ${expected} data bytes: the file holds ${received} (truncated)`,
            "the file is truncated; fetch it again",
          );
        }
      },
    });
  }
}

/** The four files of an IDX data set, each raw or `.gz`. */
export interface DataFiles {
  /** Training images (idx3). */
  trainImages: string;
  /** Training labels (idx1). */
  trainLabels: string;
  /** Test images (idx3). */
  testImages: string;
  /** Test labels (idx1). */
  testLabels: string;
}

/** The base names a data folder must hold, raw or with `.gz`. */
export const DATA_FILE_NAMES: Readonly<DataFiles> = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Finds the four IDX files in a folder, preferring the raw name over `.gz`. */
export async function findDataFiles(dir: string): Promise<DataFiles> {
  const folder = await Deno.stat(dir).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (!folder?.isDirectory) {
    throw new InputError(
      `Cannot read data folder "${dir}" as it must be a folder: ${
        folder ? "it is a file" : "it does not exist"
      }. ` +
        `Hint: --data DIR needs a folder holding ${Object.values(DATA_FILE_NAMES).join(", ")}`,
    );
  }
  const found: Partial<DataFiles> = {};
  for (const [role, name] of Object.entries(DATA_FILE_NAMES) as [keyof DataFiles, string][]) {
    const raw = `${dir}/${name}`;
    if (await isFile(raw)) found[role] = raw;
    else if (await isFile(`${raw}.gz`)) found[role] = `${raw}.gz`;
    else {
      throw new InputError(
        `Cannot read data folder "${dir}" as it must hold "${name}" or "${name}.gz": neither exists. ` +
          `Hint: --data DIR needs ${Object.values(DATA_FILE_NAMES).join(", ")}`,
      );
    }
  }
  return found as DataFiles;
}

/** A content hash of the four files (never their paths or times): the source key. Streams each file. */
export async function fingerprintData(files: DataFiles): Promise<string> {
  const parts: string[] = [];
  for (const role of Object.keys(DATA_FILE_NAMES) as (keyof DataFiles)[]) {
    const hash = createHash("sha256");
    const file = await Deno.open(files[role]);
    for await (const bytes of file.readable) hash.update(bytes);
    parts.push(`${role}:${hash.digest("hex")}`);
  }
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

/**
 * Inflates a gzip stream of one or more members (what `cat a.gz b.gz` makes),
 * checking each member's CRC and length, through node:zlib. A cut or damaged
 * stream errors; each input chunk is fed in 16 KiB pieces so the output
 * between two checks by the consumer stays bounded.
 */
export class GunzipStream extends TransformStream<Uint8Array, Uint8Array> {
  /** Creates an inflater. */
  constructor() {
    const inflater = zlib.createGunzip();
    let failure: Error | null = null;
    let output: TransformStreamDefaultController<Uint8Array> | null = null;
    inflater.on("data", (data: Uint8Array) => {
      try {
        output?.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch {
        // The consumer has gone; the pipe is being torn down.
      }
    });
    const ended = new Promise<void>((resolve) => {
      inflater.on("end", () => resolve());
      inflater.on("error", (error: Error) => {
        failure = error;
        resolve();
      });
    });
    super({
      start(controller) {
        output = controller;
      },
      async transform(chunk) {
        for (let at = 0; at < chunk.length && !failure; at += 16384) {
          await new Promise<void>((resolve) =>
            inflater.write(chunk.subarray(at, at + 16384), () => resolve())
          );
        }
        if (failure) throw failure;
      },
      async flush() {
        inflater.end();
        await ended;
        if (failure) throw failure;
      },
      cancel() {
        inflater.destroy();
      },
    });
  }
}

/** An opened IDX file: its (decompressed) bytes, whether it was gzip, and its size on disk. */
interface OpenedFile {
  bytes: ReadableStream<Uint8Array>;
  gzip: boolean;
  size: number;
}

/** Opens a file as a byte stream, decompressing when it starts with the gzip magic 1f 8b. */
async function openMaybeGzip(path: string): Promise<OpenedFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`Cannot read IDX file "${path}" as it does not exist`);
    }
    throw error;
  }
  const { size } = await file.stat();
  // Peek at the first bytes through the stream itself, so pipes (which cannot seek) work too.
  const reader = file.readable.getReader();
  let head = new Uint8Array(0);
  while (head.length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(head.length + value.length);
    joined.set(head);
    joined.set(value, head.length);
    head = joined;
  }
  const bytes = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(head);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  return { bytes: gzip ? bytes.pipeThrough(new GunzipStream()) : bytes, gzip, size };
}

/**
 * Streams one IDX file as blocks of whole items; a gzip failure becomes an
 * {@linkcode InputError} naming the file.
 */
export async function idxBlocks(
  path: string,
  dimensions: number,
  timer?: <T>(work: () => T) => T,
): Promise<ReadableStream<IdxBlock>> {
  const opened = await openMaybeGzip(path);
  const blocks = opened.bytes.pipeThrough(
    new IdxDecoderStream({
      source: path,
      dimensions,
      // A regular raw file's size is known up front; pipes report 0.
      byteLength: opened.gzip || opened.size === 0 ? undefined : opened.size,
      timer,
    }),
  );
  if (!opened.gzip) return blocks;
  const reader = blocks.getReader();
  return new ReadableStream<IdxBlock>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        if (error instanceof InputError) throw error;
        throw new InputError(
          `Cannot decode IDX file "${path}" as its gzip stream must be complete and valid: ${
            (error as Error).message
          }. Hint: the file is damaged or truncated; fetch it again`,
        );
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Reads only the header of an IDX file (and, for a raw file, checks its size against it). */
export async function readIdxHeader(path: string, dimensions: number): Promise<IdxHeader> {
  const reader = (await idxBlocks(path, dimensions)).getReader();
  try {
    const { value, done } = await reader.read();
    if (done) throw new InputError(`Cannot decode IDX file "${path}" as it holds no data`);
    return value.header;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Decodes one whole IDX file into its header and all its data bytes, growing
 * the buffer as data arrives (never from the header's claim alone).
 */
export async function decodeIdxFile(
  path: string,
  dimensions: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const parts: Uint8Array[] = [];
  let dims: number[] = [];
  let total = 0;
  for await (const block of await idxBlocks(path, dimensions)) {
    dims = block.header.dims;
    parts.push(block.data);
    total += block.data.length;
  }
  if (parts.length === 0) {
    throw new InputError(`Cannot decode IDX file "${path}" as it holds no data`);
  }
  const data = parts.length === 1 ? parts[0] : new Uint8Array(total);
  if (parts.length > 1) {
    let at = 0;
    for (const part of parts) {
      data.set(part, at);
      at += part.length;
    }
  }
  return { dims, data };
}

/**
 * Cuts blocks of whole images into chunks of `size` images (the last one
 * shorter), pairing each with its labels; `timer` counts the copying as work.
 */
export class ImageChunkStream extends TransformStream<IdxBlock, Chunk<Uint8Array>> {
  /** Creates a chunker over `labels`, in file order. */
  constructor(
    labels: Uint8Array,
    size = CHUNK_IMAGES,
    timer: <T>(work: () => T) => T = (work) => work(),
  ) {
    let buffer: Uint8Array | null = null;
    let filled = 0; // images in the buffer
    let emitted = 0; // images before the buffer
    let width = 0, rows = 0, cols = 0;
    const emit = (controller: TransformStreamDefaultController<Chunk<Uint8Array>>) => {
      controller.enqueue({
        images: buffer!.subarray(0, filled * width),
        labels: labels.subarray(emitted, emitted + filled),
        rows,
        cols,
      });
      emitted += filled;
      filled = 0;
      buffer = null;
    };
    const cut = (
      block: IdxBlock,
      controller: TransformStreamDefaultController<Chunk<Uint8Array>>,
    ) => {
      [, rows, cols] = block.header.dims;
      width = rows * cols;
      let at = 0;
      const count = block.data.length / width;
      while (at < count) {
        buffer ??= new Uint8Array(Math.min(size, labels.length - emitted) * width);
        const take = Math.min(size - filled, count - at, buffer.length / width - filled);
        buffer.set(block.data.subarray(at * width, (at + take) * width), filled * width);
        filled += take;
        at += take;
        if (filled * width === buffer.length) emit(controller);
      }
    };
    super({
      transform: (block, controller) => timer(() => cut(block, controller)),
      flush(controller) {
        if (buffer && filled > 0) emit(controller);
      },
    });
  }
}

/** Returns the index of the first label ≥ `classes`, or −1. */
function firstLabelOutside(labels: Uint8Array, classes: number): number {
  for (let i = 0; i < labels.length; i++) if (labels[i] >= classes) return i;
  return -1;
}

/** The images of one split: its images file and its labels. */
interface SplitSource {
  images: string;
  labels: Uint8Array;
}

/** Reads a split's labels whole and its images' header, checking that they pair up. */
async function readSplit(imagesPath: string, labelsPath: string) {
  const header = await readIdxHeader(imagesPath, 3);
  const labels = (await decodeIdxFile(labelsPath, 1)).data;
  if (header.dims[0] !== labels.length) {
    throw new InputError(
      `Cannot pair IDX files "${imagesPath}" and "${labelsPath}" as their counts must match: ` +
        `${header.dims[0]} images, ${labels.length} labels`,
    );
  }
  return { dims: header.dims, labels };
}

/**
 * Opens a data set over the four files, checking everything but the pixels
 * now: headers, raw sizes, counts, and every label (labels are read whole, one
 * byte an image; images stream). `classes` is one more than the largest
 * training label.
 */
export async function decodeDataSet(
  files: DataFiles,
  timed: StageContext["timed"] = (work) => work(),
  chunkImages = CHUNK_IMAGES,
): Promise<DataSet<Uint8Array>> {
  const train = await readSplit(files.trainImages, files.trainLabels);
  const test = await readSplit(files.testImages, files.testLabels);
  const [, rows, cols] = train.dims;
  if (rows !== test.dims[1] || cols !== test.dims[2]) {
    throw new InputError(
      `Cannot use test images "${files.testImages}" as their size must match the training images ` +
        `(${rows}×${cols}): current value is ${test.dims[1]}×${test.dims[2]}`,
    );
  }
  const perClass = new Array<number>(256).fill(0);
  for (const label of train.labels) perClass[label]++;
  const classes = perClass.findLastIndex((n) => n > 0) + 1;
  if (classes < 2) {
    throw new InputError(
      `Cannot train on labels "${files.trainLabels}" as they must name at least 2 classes: ` +
        `the largest label is ${classes - 1}`,
    );
  }
  const empty = perClass.slice(0, classes).flatMap((n, c) => (n === 0 ? [c] : []));
  if (empty.length > 0) {
    const largest = classes - 1;
    throw new InputError(
      `Cannot train on labels "${files.trainLabels}" as every class in the range 0..${largest} ` +
        `must have training images: ${empty.length} have none (${empty.slice(0, 5).join(", ")}` +
        `${empty.length > 5 ? ", …" : ""}). Hint: label ${largest} at index ` +
        `${train.labels.indexOf(largest)} may be outside the intended class range`,
    );
  }
  const outside = firstLabelOutside(test.labels, classes);
  if (outside >= 0) {
    throw new InputError(
      `Cannot use test labels "${files.testLabels}" as every label must be in the training class ` +
        `range 0..${classes - 1}: label ${test.labels[outside]} at index ${outside}`,
    );
  }
  const sources: Record<Split, SplitSource> = {
    train: { images: files.trainImages, labels: train.labels },
    test: { images: files.testImages, labels: test.labels },
  };
  const meta: DataMeta = {
    rows,
    cols,
    classes,
    counts: { train: train.labels.length, test: test.labels.length },
    pixels: "uint8",
  };
  return {
    meta,
    open(split) {
      const source = sources[split];
      let reader: ReadableStreamDefaultReader<Chunk<Uint8Array>> | null = null;
      return new ReadableStream<Chunk<Uint8Array>>({
        async pull(controller) {
          reader ??= (await idxBlocks(source.images, 3, timed))
            .pipeThrough(new ImageChunkStream(source.labels, chunkImages, timed)).getReader();
          const { value, done } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => reader?.cancel(reason),
      });
    },
  };
}

/** Decodes a whole split into memory: for predict, gradcheck and small tools, not the pipeline. */
export async function decodeImagesAndLabels(
  imagesPath: string,
  labelsPath: string,
): Promise<Chunk<Uint8Array>> {
  const { dims, labels } = await readSplit(imagesPath, labelsPath);
  const stream = (await idxBlocks(imagesPath, 3)).pipeThrough(new ImageChunkStream(labels));
  return collect(stream, labels.length, { rows: dims[1], cols: dims[2], pixels: "uint8" });
}

/**
 * The decode stage: data files in, a streamed uint8 data set out, in chunks of
 * `chunkImages` (which frames the cache entry but changes no pixel, so it is no param).
 */
export function decodeStage(
  chunkImages = CHUNK_IMAGES,
): DataStage<[DataFiles], Uint8Array, DataMeta> {
  return {
    kind: "data",
    name: "decode",
    // 2: chunked, streamed output in cache format 2.
    version: 2,
    params: {},
    build: ([files], context) => decodeDataSet(files, context.timed, chunkImages),
  };
}
