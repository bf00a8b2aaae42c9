/**
 * Fuzzing: mutates valid IDX files, model files and PNGs (bit flips, byte
 * insertions and deletions, truncation at every header boundary, huge and zero
 * declared sizes, wrong type codes and magic, corrupted and cut gzip streams)
 * and feeds each to the IDX decoder, the model loader or the PNG reader. Every
 * input must end in a valid result or the project's own error
 * (`PipelineError`, `ModelError`); anything else is a finding: another
 * exception, an input that runs past the time bound, memory past the bound, or
 * a crash.
 *
 * The inputs run in a child Deno process (this module is its main), started
 * with V8's heap capped by `--max-old-space-size`; a watchdog thread in the
 * child polls the whole process's resident memory (typed arrays included,
 * which the heap cap does not count) every 10 ms and reports when it passes
 * the bound. The supervisor ({@linkcode runFuzz}) kills the child when an input
 * runs past the time bound or memory is reported over the bound, records a
 * finding for a crash, and restarts it at the next input. Input `i` of a
 * target comes from its own seeded random source, so a seed always gives the
 * same inputs, and restarts change nothing.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync, gzipSync } from "node:zlib";
import { PNG } from "pngjs";
import { PipelineError } from "../engine/errors.ts";
import { ModelError } from "../model/errors.ts";
import { encodeModel } from "../model/format.ts";
import { type Random, seededRandom } from "../model/rng.ts";
import { networkOf, predictAll } from "../stages/evaluate.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import { ADAM7_PASSES, luminanceOf, mnistDigit, readPng } from "./png_digit.ts";
import { loadModel, preprocessImages } from "./predict.ts";

/** The targets `deno task fuzz` knows. */
export const FUZZ_TARGETS = ["idx", "model", "png"] as const;

/** A valid input the mutations start from. */
export interface FuzzSeed {
  /** Names the seed in a finding's mutation. */
  name: string;
  /** The bytes. */
  bytes: Uint8Array;
  /** Offsets where the format's fields and sections start or end: truncations cut there. */
  boundaries: number[];
}

/** A mutated input and how it was made. */
export interface Mutant {
  /** The bytes. */
  bytes: Uint8Array;
  /** What was done, e.g. `flip 2 bits at 17.3, 40.0`. */
  detail: string;
}

/** A way of mutating a seed; returns null when it does not apply to that seed. */
export interface Mutator {
  /** Its name, which starts a finding's mutation. */
  name: string;
  /** Mutates a copy of the seed's bytes with the random source. */
  mutate(seed: FuzzSeed, random: Random): Mutant | null;
}

/** Something to fuzz: its valid seeds, its format-aware mutations, and the code under test. */
export interface FuzzTarget {
  /** Builds the valid inputs, the same every time. */
  seeds(): FuzzSeed[];
  /** Mutations that know the format, used beside the generic ones. @default {[]} */
  mutators?: Mutator[];
  /**
   * Feeds one input, already written to the file at `path`: resolves for a
   * valid result, throws the project's own error for a refusal.
   */
  run(path: string, bytes: Uint8Array): Promise<unknown> | unknown;
}

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** Inputs per target. @default {1000} */
  iterations?: number;
  /** Targets to fuzz, by name. @default {["idx", "model", "png"]} */
  targets?: readonly string[];
  /** Seed of every random choice. @default {1} */
  seed?: number;
  /** Time bound of one input, in milliseconds. @default {2000} */
  timeoutMs?: number;
  /** Memory bound of the child process (resident memory and V8 heap), in MiB. @default {512} */
  memoryMb?: number;
  /** A folder to save each finding's input in (`<target>-<iteration>.bin`) with `findings.json`. @default {undefined} */
  out?: string;
  /**
   * A module exporting `targets: Record<string, FuzzTarget>` to fuzz in place
   * of the built-in ones; the fuzzer's own tests inject failing targets with it.
   * @default {undefined}
   */
  targetModule?: string | URL;
  /** Called with each finding as it happens. @default {undefined} */
  onFinding?: (finding: Finding) => void;
  /** Called after each input with the target and how many of its inputs ran. @default {undefined} */
  onProgress?: (target: string, done: number) => void;
}

/** How an input failed. */
export type FindingKind = "exception" | "timeout" | "memory" | "crash";

/** An input that did not end in a valid result or the project's own error. */
export interface Finding {
  /** The target's name. */
  target: string;
  /** The input's number, 0-based; with the seed it regenerates the input. */
  iteration: number;
  /** How the input was made from a seed. */
  mutation: string;
  /** What went wrong. */
  kind: FindingKind;
  /** The exception, the bound passed, or the crash's exit status and last error output. */
  message: string;
  /** The input. */
  input: Uint8Array;
  /** Where the input was saved, with `out`. */
  saved?: string;
}

/** What {@linkcode runFuzz} returns. */
export interface FuzzReport {
  /** Inputs tried per target. */
  tried: Record<string, number>;
  /** Of those, inputs refused with the project's own error. */
  refused: Record<string, number>;
  /** Every finding, in order. */
  findings: Finding[];
}

// ---------------------------------------------------------------------------
// Random choices and generic mutations

const int = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)];

/** u32 values that break size and count fields. */
const INTERESTING_U32: readonly number[] = [0, 1, 2, 0x7f, 0xff, 0x100, 0xffff, 0x10000]
  .concat([0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytes of one of several kinds: random, zeros, 0xff, or a copy from the input. */
function someBytes(
  random: Random,
  bytes: Uint8Array,
  n: number,
): { data: Uint8Array; kind: string } {
  const kind = pick(random, ["random", "zeros", "ff", "copy"] as const);
  const data = new Uint8Array(n);
  if (kind === "random") { for (let i = 0; i < n; i++) data[i] = int(random, 256); }
  if (kind === "ff") data.fill(0xff);
  if (kind === "copy" && bytes.length > 0) {
    const from = int(random, bytes.length);
    data.set(bytes.subarray(from, from + n));
  }
  return { data, kind };
}

/** Cut points: each boundary, one byte either side of it, and the ends. */
function cutPoints(seed: FuzzSeed): number[] {
  const points = new Set<number>([0, seed.bytes.length - 1]);
  for (const b of seed.boundaries) for (const d of [-1, 0, 1]) points.add(b + d);
  return [...points].filter((p) => p >= 0 && p < seed.bytes.length).sort((a, b) => a - b);
}

/** Mutations that know nothing of the format. */
export const GENERIC_MUTATORS: readonly Mutator[] = [
  {
    name: "bitflip",
    mutate({ bytes }, random) {
      if (bytes.length === 0) return null;
      const out = bytes.slice(), flips: string[] = [];
      for (let n = 1 + int(random, 8); n > 0; n--) {
        const at = int(random, out.length), bit = int(random, 8);
        out[at] ^= 1 << bit;
        flips.push(`${at}.${bit}`);
      }
      return { bytes: out, detail: `flip ${flips.length} bits at ${flips.join(", ")}` };
    },
  },
  {
    name: "insert",
    mutate({ bytes }, random) {
      const at = int(random, bytes.length + 1);
      const { data, kind } = someBytes(random, bytes, 1 + int(random, 32));
      return {
        bytes: concat(bytes.subarray(0, at), data, bytes.subarray(at)),
        detail: `insert ${data.length} ${kind} bytes at ${at}`,
      };
    },
  },
  {
    name: "delete",
    mutate({ bytes }, random) {
      if (bytes.length === 0) return null;
      const at = int(random, bytes.length), n = 1 + int(random, 32);
      return {
        bytes: concat(bytes.subarray(0, at), bytes.subarray(at + n)),
        detail: `delete ${Math.min(n, bytes.length - at)} bytes at ${at}`,
      };
    },
  },
  {
    name: "truncate",
    mutate(seed, random) {
      const at = pick(random, cutPoints(seed));
      return { bytes: seed.bytes.slice(0, at), detail: `cut at ${at} of ${seed.bytes.length}` };
    },
  },
  {
    name: "overwrite-u32",
    mutate(seed, random) {
      const at = pick(random, seed.boundaries.filter((b) => b + 4 <= seed.bytes.length));
      if (at === undefined) return null;
      const value = pick(random, INTERESTING_U32), little = random() < 0.5;
      const out = seed.bytes.slice();
      new DataView(out.buffer).setUint32(at, value, little);
      return { bytes: out, detail: `u32 ${little ? "LE" : "BE"} 0x${value.toString(16)} at ${at}` };
    },
  },
  {
    name: "duplicate",
    mutate({ bytes }, random) {
      if (bytes.length === 0) return null;
      const at = int(random, bytes.length), n = 1 + int(random, 64);
      const span = bytes.subarray(at, at + n);
      return {
        bytes: concat(bytes.subarray(0, at + span.length), span, bytes.subarray(at + span.length)),
        detail: `repeat ${span.length} bytes at ${at}`,
      };
    },
  },
];

/** Applies one mutation: mostly one, sometimes several generic ones in a row ("havoc"). */
function mutateOnce(target: FuzzTarget, seed: FuzzSeed, random: Random): Mutant {
  const special = target.mutators ?? [];
  if (random() < 0.15) {
    let current = seed;
    const steps: string[] = [];
    for (let n = 2 + int(random, 3); n > 0; n--) {
      const mutator = pick(random, GENERIC_MUTATORS);
      const result = mutator.mutate(current, random);
      if (!result) continue;
      steps.push(`${mutator.name} ${result.detail}`);
      current = { ...current, bytes: result.bytes };
    }
    return { bytes: current.bytes, detail: `havoc: ${steps.join("; ")}` };
  }
  for (let attempt = 0; attempt < 16; attempt++) {
    const all = special.length > 0 && random() < 0.5 ? special : GENERIC_MUTATORS;
    const mutator = pick(random, all);
    const result = mutator.mutate(seed, random);
    if (result) return { bytes: result.bytes, detail: `${mutator.name} ${result.detail}` };
  }
  return { bytes: seed.bytes.slice(), detail: "none (the seed itself)" };
}

/**
 * Makes input `iteration` of a target from its own seeded random source: a
 * seed picked at random (every 50th input is a seed unchanged), then mutated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_TARGETS, fuzzInput } from "./fuzz.ts";
 * const seeds = BUILTIN_TARGETS.idx.seeds();
 * const a = fuzzInput(BUILTIN_TARGETS.idx, seeds, 7, "idx", 3);
 * assert.deepEqual(fuzzInput(BUILTIN_TARGETS.idx, seeds, 7, "idx", 3), a);
 * ```
 */
export function fuzzInput(
  target: FuzzTarget,
  seeds: readonly FuzzSeed[],
  seed: number,
  name: string,
  iteration: number,
): { bytes: Uint8Array; mutation: string } {
  const random = seededRandom(seed, "fuzz", name, iteration);
  const base = pick(random, seeds);
  if (iteration % 50 === 0) return { bytes: base.bytes.slice(), mutation: `seed ${base.name}` };
  const { bytes, detail } = mutateOnce(target, base, random);
  return { bytes, mutation: `${detail} of seed ${base.name}` };
}

/** Whether an error is one the project throws on purpose, so the input was refused properly. */
export function isOwnError(error: unknown): boolean {
  return error instanceof PipelineError || error instanceof ModelError;
}

// ---------------------------------------------------------------------------
// IDX

/** IDX bytes: two zero bytes, 0x08 (unsigned bytes), the dimension count, big-endian dims, data. */
function idx(dims: number[], fill: (i: number) => number): FuzzSeed {
  const headerSize = 4 + 4 * dims.length;
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(headerSize + count);
  const view = new DataView(bytes.buffer);
  bytes[2] = 0x08;
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  for (let i = 0; i < count; i++) bytes[headerSize + i] = fill(i);
  const item = count / dims[0];
  const boundaries = [1, 2, 3, 4, ...dims.map((_, i) => 8 + 4 * i)];
  for (let k = 0; k <= dims[0]; k++) boundaries.push(headerSize + k * item);
  return { name: `idx${dims.length} ${dims.join("×")}`, bytes, boundaries };
}

const gzip = (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes));

/** A raw seed, or a raw seed mutated once, as the inside of a gzip stream. */
function innerOf(seed: FuzzSeed, random: Random): Mutant {
  if (random() < 0.5) return { bytes: seed.bytes, detail: "the seed" };
  const mutator = pick(random, [...GENERIC_MUTATORS, ...IDX_MUTATORS]);
  return mutator.mutate(seed, random) ?? { bytes: seed.bytes, detail: "the seed" };
}

const IDX_MUTATORS: Mutator[] = [
  {
    name: "dims",
    mutate(seed, random) {
      const count = seed.bytes[3];
      const k = int(random, count);
      const out = seed.bytes.slice(), view = new DataView(out.buffer);
      const old = view.getUint32(4 + 4 * k);
      const value = pick(random, [...INTERESTING_U32, 60000, 28, old + 1, Math.max(0, old - 1)]);
      view.setUint32(4 + 4 * k, value);
      return { bytes: out, detail: `dimension ${k} = ${value} (was ${old})` };
    },
  },
  {
    name: "type",
    mutate(seed, random) {
      const out = seed.bytes.slice();
      const field = pick(random, ["type", "count", "zeros"] as const);
      if (field === "type") out[2] = pick(random, [0x00, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0xff]);
      if (field === "count") out[3] = pick(random, [0, 1, 2, 3, 4, 255]);
      if (field === "zeros") out[int(random, 2)] = 1 + int(random, 255);
      return { bytes: out, detail: `magic ${field}: ${Array.from(out.subarray(0, 4)).join(" ")}` };
    },
  },
  {
    name: "gzip",
    mutate(seed, random) {
      const inner = innerOf(seed, random);
      return { bytes: gzip(inner.bytes), detail: `of ${inner.detail}` };
    },
  },
  {
    name: "gzip-corrupt",
    mutate(seed, random) {
      const inner = innerOf(seed, random);
      const out = gzip(inner.bytes), flips: string[] = [];
      const region = pick(random, ["header", "body", "trailer", "anywhere"] as const);
      const [from, to] = region === "header"
        ? [0, 10]
        : region === "body"
        ? [10, out.length - 8]
        : region === "trailer"
        ? [out.length - 8, out.length]
        : [0, out.length];
      for (let n = 1 + int(random, 4); n > 0; n--) {
        const at = from + int(random, Math.max(1, to - from)), bit = int(random, 8);
        out[at] ^= 1 << bit;
        flips.push(`${at}.${bit}`);
      }
      return { bytes: out, detail: `${region} bits ${flips.join(", ")} of ${inner.detail}` };
    },
  },
  {
    name: "gzip-cut",
    mutate(seed, random) {
      const inner = innerOf(seed, random);
      const out = gzip(inner.bytes);
      const ends = [9, 8, 4, 1].map((d) => out.length - d);
      const at = pick(random, [1, 2, 9, 10, 11, int(random, out.length), ...ends]);
      return { bytes: out.slice(0, at), detail: `cut at ${at} of ${out.length}, ${inner.detail}` };
    },
  },
  {
    name: "gzip-junk",
    mutate(seed, random) {
      const inner = innerOf(seed, random);
      const out = gzip(inner.bytes);
      const kind = pick(random, ["trailing", "two members", "flags"] as const);
      if (kind === "trailing") {
        const { data } = someBytes(random, out, 1 + int(random, 16));
        return {
          bytes: concat(out, data),
          detail: `trailing ${data.length} bytes, ${inner.detail}`,
        };
      }
      if (kind === "two members") {
        return { bytes: concat(out, out), detail: `two members of ${inner.detail}` };
      }
      // FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT or reserved flags, without their fields.
      out[3] = 1 << int(random, 8);
      return { bytes: out, detail: `flags 0x${out[3].toString(16)}, ${inner.detail}` };
    },
  },
];

/** The IDX decoder, on files: raw or gzip, as labels (1 dimension) and as images (3). */
const idxTarget: FuzzTarget = {
  seeds: () => [
    idx([3, 4, 5], (i) => (i * 37) & 0xff),
    idx([5], (i) => i % 3),
    idx([1, 1, 1], () => 200),
    idx([2, 28, 28], (i) => (i * 7) & 0xff),
  ],
  mutators: IDX_MUTATORS,
  async run(path) {
    const results: unknown[] = [];
    for (const dimensions of [1, 3]) {
      try {
        results.push(await decodeIdxFile(path, dimensions));
      } catch (error) {
        results.push(error);
      }
    }
    // Either both refuse with the project's error, or at least one decodes and the rest refuse.
    for (const result of results) if (result instanceof Error && !isOwnError(result)) throw result;
    const refusal = results.find((r) => r instanceof Error);
    if (results.every((r) => r instanceof Error)) throw refusal;
    return results;
  },
};

// ---------------------------------------------------------------------------
// Model files

interface ModelHeader {
  sizes: number[];
  activation: string;
  output: string;
  preprocessing: Record<string, unknown> & { normalization: Record<string, unknown> };
}

function modelSeed(
  name: string,
  sizes: number[],
  activation: "sigmoid" | "tanh" | "relu" | "swish",
  output: "softmax" | "sigmoid",
  rows: number,
  normalization: { mode: "scale" | "standardize" | "none"; mean: number; std: number },
  deskew: boolean,
): FuzzSeed {
  let count = 0;
  for (let l = 1; l < sizes.length; l++) count += (sizes[l - 1] + 1) * sizes[l];
  const random = seededRandom(1, "fuzz-model", name);
  const params = Float32Array.from({ length: count }, () => random() * 2 - 1);
  const bytes = encodeModel({
    spec: { sizes, activation, output },
    preprocessing: { rows, cols: sizes[0] / rows, normalization, deskew },
    params,
  });
  const headerLength = new DataView(bytes.buffer).getUint32(12, true);
  const paramsAt = 4 * Math.ceil((16 + headerLength) / 4);
  return {
    name,
    bytes,
    boundaries: [8, 12, 16, 16 + headerLength, paramsAt, paramsAt + 4, bytes.length - 4],
  };
}

/** Splits a model file into its header object and the bytes after the header. */
function splitModel(bytes: Uint8Array): { header: ModelHeader; params: Uint8Array } {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  return { header, params: bytes.subarray(4 * Math.ceil((16 + headerLength) / 4)) };
}

/** A model file from header text and parameter bytes, with the preamble of a valid file. */
function joinModel(headerText: string, params: Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const paramsAt = 4 * Math.ceil((16 + header.length) / 4);
  const out = new Uint8Array(paramsAt + params.length);
  out.set(new TextEncoder().encode("MNPMODEL"));
  new DataView(out.buffer).setUint32(8, 1, true);
  new DataView(out.buffer).setUint32(12, header.length, true);
  out.set(header, 16);
  out.set(params, paramsAt);
  return out;
}

/** Values that break a header field's rule. */
const HOSTILE_VALUES: readonly unknown[] = JSON.parse(
  "[0, -1, 1, 1.5, 2, 255, 256, 257, 2147483648, 9007199254740992, 1e308, -1e308, null, " +
    '"", "x", "scale", "none", "relu", true, [], {}, [1]]',
);

/** The header's fields that `field` mutations set, as dotted paths (`last`: the last size). */
const HEADER_PATHS: readonly string[] = [
  "sizes sizes.0 sizes.1 sizes.last activation output preprocessing preprocessing.rows",
  "preprocessing.cols preprocessing.deskew preprocessing.normalization",
  "preprocessing.normalization.mode preprocessing.normalization.mean",
  "preprocessing.normalization.std",
].join(" ").split(" ");

/** Zero parameters for `sizes` when they are few enough to write, else null. */
function paramsFor(sizes: unknown): Uint8Array | null {
  if (!Array.isArray(sizes) || !sizes.every((s) => Number.isInteger(s) && s >= 1)) return null;
  let count = 0;
  for (let l = 1; l < sizes.length; l++) count += (sizes[l - 1] + 1) * sizes[l];
  return count <= 1 << 20 ? new Uint8Array(4 * count) : null;
}

/** Header texts that are not a header: other JSON, no JSON, deep nesting, long arrays. */
const HEADER_TEXTS: readonly string[] = ["", "null", "[]", "{}", "1", '"x"', "{", "\u0000"].concat([
  "[".repeat(100_000),
  "[".repeat(100_000) + "]".repeat(100_000),
  `{"sizes":${"[".repeat(5000)}${"]".repeat(5000)}}`,
  JSON.stringify({ sizes: Array(10_000).fill(1) }),
]);

const MODEL_MUTATORS: Mutator[] = [
  {
    name: "field",
    mutate(seed, random) {
      const { header, params } = splitModel(seed.bytes);
      const path = pick(random, HEADER_PATHS).split(".");
      let value = pick(random, HOSTILE_VALUES);
      let holder = header as unknown as Record<string, unknown>;
      for (const key of path.slice(0, -1)) holder = holder[key] as Record<string, unknown>;
      const last = path[path.length - 1];
      const key = last === "last" ? String(header.sizes.length - 1) : last;
      if (path[0] === "sizes" && path.length === 2 && random() < 0.5) {
        value = pick(random, [1, 2, 3, 255, 256, 257, 300, 1000]);
      }
      holder[key] = value;
      // Unless the sizes broke, write as many parameters as they need, to reach the checks after.
      const resized = paramsFor(header.sizes) ?? params;
      let text = JSON.stringify(header);
      const infinite = typeof value === "number" && Math.abs(value) === 1e308 && random() < 0.5;
      // JSON has no Infinity; 1e999 parses to it.
      if (infinite) text = text.replace(/1e\+308/, "1e999");
      return {
        bytes: joinModel(text, resized),
        detail: `${path.join(".")} = ${infinite ? "1e999" : JSON.stringify(value)}`,
      };
    },
  },
  {
    name: "framing",
    mutate(seed, random) {
      const out = seed.bytes.slice(), view = new DataView(out.buffer);
      const field = pick(random, ["version", "header length", "magic"] as const);
      if (field === "magic") {
        out[int(random, 8)] = int(random, 256);
        return { bytes: out, detail: `magic ${new TextDecoder().decode(out.subarray(0, 8))}` };
      }
      const old = view.getUint32(field === "version" ? 8 : 12, true);
      const value = pick(random, [...INTERESTING_U32, old + 1, old - 1, old + 4]) >>> 0;
      view.setUint32(field === "version" ? 8 : 12, value, true);
      return { bytes: out, detail: `${field} = ${value}` };
    },
  },
  {
    name: "param",
    mutate(seed, random) {
      const { params } = splitModel(seed.bytes);
      const count = params.length / 4;
      const i = int(random, count);
      const value = pick(random, [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 1e30]);
      const out = seed.bytes.slice();
      new DataView(out.buffer).setFloat32(seed.bytes.length - 4 * (count - i), value, true);
      return { bytes: out, detail: `parameter ${i} = ${value}` };
    },
  },
  {
    name: "header-text",
    mutate(seed, random) {
      const { params } = splitModel(seed.bytes);
      const text = pick(random, HEADER_TEXTS);
      return {
        bytes: joinModel(text, params),
        detail: `header ${JSON.stringify(text.slice(0, 24))}${text.length > 24 ? "…" : ""}`,
      };
    },
  },
];

/** The model loader, then a forward pass of two images, as predict does. */
const modelTarget: FuzzTarget = {
  seeds: () => [
    modelSeed("tanh-softmax", [6, 4, 3], "tanh", "softmax", 2, {
      mode: "standardize",
      mean: 33.3,
      std: 78.5,
    }, true),
    modelSeed("sigmoid-sigmoid", [4, 2], "sigmoid", "sigmoid", 2, {
      mode: "scale",
      mean: 0,
      std: 1,
    }, false),
    modelSeed("relu-deep", [9, 5, 4, 10], "relu", "softmax", 3, {
      mode: "none",
      mean: 0,
      std: 1,
    }, true),
  ],
  mutators: MODEL_MUTATORS,
  async run(path) {
    const { model } = await loadModel(path);
    const { rows, cols } = model.preprocessing;
    const pixels = new Uint8Array(2 * rows * cols).fill(255, rows * cols);
    const images = preprocessImages(pixels, model.preprocessing);
    return predictAll(networkOf(model), { images, labels: new Uint8Array(2), rows, cols });
  },
};

// ---------------------------------------------------------------------------
// PNG

/** One PNG chunk: length, type, data, and the CRC over type and data. */
function pngChunk(type: string | Uint8Array, data: Uint8Array, fixCrc = true): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(typeof type === "string" ? new TextEncoder().encode(type) : type, 4);
  out.set(data, 8);
  if (fixCrc) view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

interface Chunk {
  type: Uint8Array;
  data: Uint8Array;
}

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The chunks of a valid PNG. */
function chunksOf(bytes: Uint8Array): Chunk[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: Chunk[] = [];
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    chunks.push({
      type: bytes.subarray(at + 4, at + 8),
      data: bytes.subarray(at + 8, at + 8 + length),
    });
    at += 12 + length;
  }
  return chunks;
}

const pngOf = (chunks: Chunk[]) =>
  concat(PNG_SIGNATURE, ...chunks.map((c) => pngChunk(c.type, c.data)));

const typeName = (type: Uint8Array) => String.fromCharCode(...type);

/** A PNG seed; its boundaries are every chunk's start, type, data and CRC. */
function pngSeed(name: string, bytes: Uint8Array): FuzzSeed {
  const boundaries = [8];
  let at = 8;
  for (const chunk of chunksOf(bytes)) {
    boundaries.push(at + 4, at + 8, at + 8 + chunk.data.length, at + 12 + chunk.data.length);
    if (typeName(chunk.type) === "IHDR") boundaries.push(at + 12, at + 16, at + 17, at + 18);
    at += 12 + chunk.data.length;
  }
  return { name, bytes, boundaries };
}

/** A PNG written by pngjs from a gray pattern. */
function pngjsSeed(colorType: 0 | 2 | 4 | 6, width: number, height: number): FuzzSeed {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    const v = (i * 53) & 0xff;
    png.data.set([v, 255 - v, v >> 1, i % 3 === 0 ? 0 : 255], 4 * i);
  }
  const bytes = new Uint8Array(PNG.sync.write(png, { colorType }));
  return pngSeed(`pngjs type ${colorType} ${width}×${height}`, bytes);
}

/** Filtered scanlines for `rows` rows of `rowBytes` bytes: every filter type, pattern data. */
function scanlines(rows: number, rowBytes: number, random: Random, badFilters = false): number[] {
  const raw: number[] = [];
  for (let r = 0; r < rows; r++) {
    raw.push(badFilters && random() < 0.3 ? 5 + int(random, 251) : r % 5);
    for (let c = 0; c < rowBytes; c++) raw.push(int(random, 256));
  }
  return raw;
}

/** Raw image data for a header, interlaced or not, as scanlines with filter bytes. */
function imageData(
  width: number,
  height: number,
  bitsPerPixel: number,
  interlace: number,
  random: Random,
  badFilters = false,
): Uint8Array {
  const rowBytes = (w: number) => Math.ceil((w * bitsPerPixel) / 8);
  if (interlace === 0) {
    return Uint8Array.from(scanlines(height, rowBytes(width), random, badFilters));
  }
  const raw: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7_PASSES) {
    const w = Math.max(0, Math.ceil((width - x0) / dx)),
      h = Math.max(0, Math.ceil((height - y0) / dy));
    if (w > 0 && h > 0) raw.push(...scanlines(h, rowBytes(w), random, badFilters));
  }
  return Uint8Array.from(raw);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** An IHDR chunk's data. */
function ihdr(width: number, height: number, depth: number, color: number, interlace: number) {
  const data = new Uint8Array(13);
  new DataView(data.buffer).setUint32(0, width);
  new DataView(data.buffer).setUint32(4, height);
  data.set([depth, color, 0, 0, interlace], 8);
  return data;
}

/** A hand-built PNG of any depth, colour type and interlace, with a palette when it needs one. */
function handSeed(
  width: number,
  height: number,
  depth: number,
  color: number,
  interlace: number,
): FuzzSeed {
  const random = seededRandom(1, "fuzz-png", width, height, depth, color, interlace);
  const chunks: Chunk[] = [{
    type: new TextEncoder().encode("IHDR"),
    data: ihdr(width, height, depth, color, interlace),
  }];
  if (color === 3) {
    const entries = 1 << depth;
    chunks.push({
      type: new TextEncoder().encode("PLTE"),
      data: Uint8Array.from({ length: 3 * entries }, (_, i) => (i * 29) & 0xff),
    });
    chunks.push({
      type: new TextEncoder().encode("tRNS"),
      data: Uint8Array.from({ length: entries }, (_, i) => 255 - i),
    });
  }
  const raw = imageData(width, height, CHANNELS[color] * depth, interlace, random);
  chunks.push({ type: new TextEncoder().encode("IDAT"), data: new Uint8Array(deflateSync(raw)) });
  chunks.push({ type: new TextEncoder().encode("IEND"), data: new Uint8Array(0) });
  return pngSeed(
    `hand ${width}×${height} depth ${depth} type ${color}${interlace ? " interlaced" : ""}`,
    pngOf(chunks),
  );
}

/** deflate of 4 MiB of zeros: a few kB that inflate far past any small picture's size. */
let bombData: Uint8Array | undefined;
const bomb = () => (bombData ??= new Uint8Array(deflateSync(new Uint8Array(1 << 22))));

/** IHDR's fields in order; width and height are u32 at 0 and 4, the rest bytes from 8. */
const IHDR_FIELDS = ["width", "height", "bit depth", "color type", "compression", "filter"]
  .concat(["interlace"]);

/** Widths and heights: zero, small, around the pixel cap, and past 2³¹. */
const DECLARED_SIZES: readonly number[] = [0, 1, 2, 4096, 4097, 20000, 65535]
  .concat([2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]);

/** How the `idat` mutation replaces the image data. */
const IDAT_CHANGES = ["bomb", "garbage", "bad filters", "short", "long", "split", "cut"] as const;

const PNG_MUTATORS: Mutator[] = [
  {
    name: "ihdr",
    mutate(seed, random) {
      const chunks = chunksOf(seed.bytes);
      const data = chunks[0].data.slice();
      const index = int(random, IHDR_FIELDS.length), field = IHDR_FIELDS[index];
      const at = index < 2 ? 4 * index : 6 + index;
      let value: number;
      if (at < 8) {
        value = pick(random, DECLARED_SIZES);
        new DataView(data.buffer).setUint32(at, value);
      } else {
        value = pick(random, [0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 255]);
        data[at] = value;
      }
      const fixCrc = random() < 0.85;
      const rest = seed.bytes.subarray(33);
      return {
        bytes: concat(PNG_SIGNATURE, pngChunk("IHDR", data, fixCrc), rest),
        detail: `${field} = ${value}${fixCrc ? "" : " (old CRC)"}`,
      };
    },
  },
  {
    name: "chunks",
    mutate(seed, random) {
      const chunks = chunksOf(seed.bytes);
      const i = int(random, chunks.length);
      const what = pick(random, ["drop", "repeat", "swap", "insert"] as const);
      const name = typeName(chunks[i].type);
      if (what === "drop") chunks.splice(i, 1);
      if (what === "repeat") chunks.splice(i, 0, chunks[i]);
      if (what === "swap" && i + 1 < chunks.length) {
        [chunks[i], chunks[i + 1]] = [chunks[i + 1], chunks[i]];
      }
      let inserted = "";
      if (what === "insert") {
        inserted = pick(random, ["PLTE", "tRNS", "gAMA", "IHDR", "IEND", "ZzZz", "zzZz", "IDAT"]);
        const { data } = someBytes(random, seed.bytes, int(random, 20));
        chunks.splice(i, 0, { type: new TextEncoder().encode(inserted), data });
      }
      return { bytes: pngOf(chunks), detail: `${what} ${inserted || name} at chunk ${i}` };
    },
  },
  {
    name: "chunk-data",
    mutate(seed, random) {
      // Flip bits inside one chunk and fix its CRC, so the change reaches the decoder.
      const chunks = chunksOf(seed.bytes);
      const i = int(random, chunks.length);
      if (chunks[i].data.length === 0) return null;
      const data = chunks[i].data.slice(), flips: string[] = [];
      for (let n = 1 + int(random, 4); n > 0; n--) {
        const at = int(random, data.length), bit = int(random, 8);
        data[at] ^= 1 << bit;
        flips.push(`${at}.${bit}`);
      }
      chunks[i] = { type: chunks[i].type, data };
      return {
        bytes: pngOf(chunks),
        detail: `${typeName(chunks[i].type)} bits ${flips.join(", ")}`,
      };
    },
  },
  {
    name: "idat",
    mutate(seed, random) {
      const chunks = chunksOf(seed.bytes);
      const header = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
      const [width, height] = [header.getUint32(0), header.getUint32(4)];
      const [depth, color, , , interlace] = chunks[0].data.subarray(8);
      const what = pick(random, IDAT_CHANGES);
      let data: Uint8Array;
      const bpp = (CHANNELS[color] ?? 1) * depth;
      const raw = () => imageData(width, height, bpp, interlace, random, what === "bad filters");
      if (what === "bomb") data = bomb();
      else if (what === "garbage") data = someBytes(random, seed.bytes, 1 + int(random, 64)).data;
      else if (what === "short") {
        data = new Uint8Array(deflateSync(raw().subarray(0, -1 - int(random, 4))));
      } else if (what === "long") {
        data = new Uint8Array(deflateSync(concat(raw(), new Uint8Array(1 + int(random, 64)))));
      } else if (what === "cut") {
        const full = new Uint8Array(deflateSync(raw()));
        data = full.subarray(0, int(random, full.length));
      } else data = new Uint8Array(deflateSync(raw()));
      const rest = chunks.filter((c) => typeName(c.type) !== "IDAT");
      const at = rest.findIndex((c) => typeName(c.type) === "IEND");
      const idats: Chunk[] = [];
      const pieces = what === "split" ? 2 + int(random, 6) : 1;
      const step = Math.ceil(data.length / pieces);
      for (let p = 0; p < pieces; p++) {
        idats.push({
          type: new TextEncoder().encode("IDAT"),
          data: data.subarray(p * step, (p + 1) * step),
        });
      }
      rest.splice(at < 0 ? rest.length : at, 0, ...idats);
      return { bytes: pngOf(rest), detail: `${what} (${data.length} bytes of zlib data)` };
    },
  },
];

/** The PNG reader, then the digit preparation predict does. */
const pngTarget: FuzzTarget = {
  seeds: () => [
    pngjsSeed(6, 7, 5),
    pngjsSeed(0, 6, 6),
    pngjsSeed(2, 3, 4),
    pngjsSeed(4, 5, 2),
    handSeed(10, 3, 1, 0, 0),
    handSeed(9, 7, 2, 3, 0),
    handSeed(9, 7, 8, 0, 1),
    handSeed(3, 2, 16, 6, 0),
    handSeed(5, 5, 16, 4, 1),
    handSeed(4, 4, 4, 3, 1),
  ],
  mutators: PNG_MUTATORS,
  async run(path) {
    const image = await readPng(path);
    return mnistDigit(luminanceOf(image), image.width, image.height);
  },
};

/** The built-in targets: the IDX decoder, the model loader and the PNG reader. */
export const BUILTIN_TARGETS: Readonly<Record<(typeof FUZZ_TARGETS)[number], FuzzTarget>> = {
  idx: idxTarget,
  model: modelTarget,
  png: pngTarget,
};

// ---------------------------------------------------------------------------
// The child process: runs inputs, prints one JSON line per event

/** What the supervisor asks a child to run. */
interface ChildConfig {
  tasks: { target: string; from: number; to: number }[];
  seed: number;
  memoryMb: number;
  scratch: string;
  targetModule?: string;
}

/** The lines a child prints, one JSON object each. */
type ChildLine =
  | { ready: true }
  | { begin: number; target: string; mutation: string }
  | { end: number; target: string; outcome: "valid" | "refused" }
  | { end: number; target: string; finding: string; input: string }
  | { memory: number }
  | { done: true };

const say = (line: ChildLine) => console.log(JSON.stringify(line));

/** Watches the process's resident memory from its own thread, which a busy target cannot block. */
const WATCHDOG = `
self.onmessage = (event) => {
  setInterval(() => {
    const rss = Deno.memoryUsage().rss;
    if (rss > event.data) console.log(JSON.stringify({ memory: rss }));
  }, 10);
};
`;

/** Runs a child's inputs in order; the supervisor watches it. */
async function runChild(config: ChildConfig): Promise<void> {
  const limit = config.memoryMb * 2 ** 20;
  const watchdog = new Worker(`data:application/javascript,${encodeURIComponent(WATCHDOG)}`, {
    type: "module",
  });
  watchdog.postMessage(limit);
  try {
    const targets: Record<string, FuzzTarget> = config.targetModule
      ? (await import(config.targetModule)).targets
      : BUILTIN_TARGETS;
    const seeds = new Map<string, FuzzSeed[]>();
    for (const { target } of config.tasks) seeds.set(target, targets[target].seeds());
    say({ ready: true });
    const path = `${config.scratch}/input`;
    for (const { target, from, to } of config.tasks) {
      const fuzz = targets[target];
      for (let i = from; i < to; i++) {
        const { bytes, mutation } = fuzzInput(fuzz, seeds.get(target)!, config.seed, target, i);
        await Deno.writeFile(path, bytes);
        say({ begin: i, target, mutation });
        try {
          await fuzz.run(path, bytes);
          say({ end: i, target, outcome: "valid" });
        } catch (error) {
          if (isOwnError(error)) say({ end: i, target, outcome: "refused" });
          else {
            const message = error instanceof Error
              ? `${error.name}: ${error.message}`
              : `thrown ${String(error)}`;
            say({ end: i, target, finding: message, input: Buffer.from(bytes).toString("base64") });
          }
        }
      }
    }
    say({ done: true });
  } finally {
    watchdog.terminate();
  }
}

// ---------------------------------------------------------------------------
// The supervisor

/** Reads lines from a byte stream. */
async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/** Keeps the last `limit` characters of a stream's text. */
async function tailOf(stream: ReadableStream<Uint8Array>, limit = 2000): Promise<string> {
  let tail = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    tail = (tail + text).slice(-limit);
  }
  return tail;
}

const hexPrefix = (bytes: Uint8Array, n = 32) =>
  Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, "0")).join(" ") +
  (bytes.length > n ? " …" : "");

/** A finding's input as a short hex prefix, for printing. */
export function describeInput(bytes: Uint8Array): string {
  return `${bytes.length} bytes: ${hexPrefix(bytes) || "(empty)"}`;
}

/** How long a child may take to load its modules and build its seeds. */
const STARTUP_MS = 60_000;

/** The input a child was running, as its `begin` line named it. */
interface Running {
  target: string;
  iteration: number;
  mutation: string;
}

/** How a child's run ended. */
interface ChildExit {
  /** Whether it loaded and built its seeds. */
  ready: boolean;
  /** Whether it ran all its inputs. */
  done: boolean;
  /** The input it was running when it stopped, if any. */
  running: Running | null;
  /** Why the supervisor killed it, if it did. */
  killed: { kind: FindingKind; message: string } | null;
  /** Its exit status and the end of its error output. */
  exit: string;
}

/** Starts a child running `config`'s inputs, with the heap cap and the narrowest permissions. */
function spawnChild(config: ChildConfig): Deno.ChildProcess {
  const reads = [config.scratch];
  if (config.targetModule?.startsWith("file:")) reads.push(fileURLToPath(config.targetModule));
  return new Deno.Command(denoCommand(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--cached-only",
      `--config=${fileURLToPath(new URL("../deno.json", import.meta.url))}`,
      `--v8-flags=--max-old-space-size=${config.memoryMb}`,
      `--allow-read=${reads.join(",")}`,
      `--allow-write=${config.scratch}`,
      fileURLToPath(import.meta.url),
      JSON.stringify(config),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Follows a child's lines until it exits, killing it when an input passes
 * `timeoutMs` or its watchdog reports memory over the bound; `onEnd` hears
 * every input that ended inside the child.
 */
async function watchChild(
  child: Deno.ChildProcess,
  timeoutMs: number,
  memoryMb: number,
  onEnd: (line: Extract<ChildLine, { end: number }>, running: Running | null) => Promise<void>,
): Promise<ChildExit> {
  const stderr = tailOf(child.stderr);
  const result: ChildExit = { ready: false, done: false, running: null, killed: null, exit: "" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const kill = (kind: FindingKind, message: string) => {
    if (result.killed) return;
    result.killed = { kind, message };
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited on its own meanwhile.
    }
  };
  const arm = (ms: number, kind: FindingKind, message: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => kill(kind, message), ms);
  };
  arm(STARTUP_MS, "crash", `it did not start within ${STARTUP_MS / 1000} s`);
  try {
    for await (const text of linesOf(child.stdout)) {
      let line: ChildLine;
      try {
        line = JSON.parse(text);
      } catch {
        continue; // A target printed something of its own.
      }
      if ("ready" in line) result.ready = true;
      else if ("begin" in line) {
        result.running = { target: line.target, iteration: line.begin, mutation: line.mutation };
        arm(timeoutMs, "timeout", `it ran past the time bound of ${timeoutMs} ms`);
      } else if ("end" in line) {
        clearTimeout(timer);
        await onEnd(line, result.running);
        result.running = null;
        arm(timeoutMs, "timeout", `it stalled between inputs for ${timeoutMs} ms`);
      } else if ("memory" in line) {
        const resident = (line.memory / 2 ** 20).toFixed(0);
        kill("memory", `its process passed the memory bound of ${memoryMb} MiB (${resident} MiB)`);
      } else if ("done" in line) result.done = true;
    }
  } catch (error) {
    kill("crash", "the supervisor stopped");
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const status = await child.status;
  const errorText = (await stderr).trim().slice(-500);
  result.exit = `${statusText(status)}${errorText ? `: ${errorText}` : ""}`;
  return result;
}

/**
 * Fuzzes the targets in a supervised child process (see the module doc) and
 * returns how many inputs each target tried, how many it refused properly, and
 * the findings. Throws `PipelineError` when the child cannot start at all, or
 * stops between inputs.
 */
export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzReport> {
  const {
    iterations = 1000,
    targets = FUZZ_TARGETS,
    seed = 1,
    timeoutMs = 2000,
    memoryMb = 512,
    out,
    onFinding,
    onProgress,
  } = options;
  const targetModule = options.targetModule === undefined
    ? undefined
    : new URL(options.targetModule, import.meta.url).href;
  const report: FuzzReport = { tried: {}, refused: {}, findings: [] };
  for (const target of targets) [report.tried[target], report.refused[target]] = [0, 0];
  // Each target resumes at its next input after a child is killed or crashes.
  const next = new Map<string, number>(targets.map((t) => [t, 0]));
  const count = async (
    target: string,
    iteration: number,
    finding?: Omit<Finding, "target" | "iteration">,
  ) => {
    report.tried[target]++;
    next.set(target, iteration + 1);
    if (finding) {
      const full: Finding = { target, iteration, ...finding };
      if (out !== undefined) {
        await Deno.mkdir(out, { recursive: true });
        full.saved = `${out}/${target}-${iteration}.bin`;
        await Deno.writeFile(full.saved, full.input);
      }
      report.findings.push(full);
      onFinding?.(full);
    }
    onProgress?.(target, iteration + 1);
  };
  const scratch = await Deno.makeTempDir({ prefix: "mnp-fuzz-" });
  try {
    while (targets.some((t) => next.get(t)! < iterations)) {
      const tasks = targets.filter((t) => next.get(t)! < iterations)
        .map((target) => ({ target, from: next.get(target)!, to: iterations }));
      const child = spawnChild({ tasks, seed, memoryMb, scratch, targetModule });
      const { ready, done, running, killed, exit } = await watchChild(
        child,
        timeoutMs,
        memoryMb,
        async (line, running) => {
          if ("finding" in line) {
            await count(line.target, line.end, {
              mutation: running?.mutation ?? "",
              kind: "exception",
              message: line.finding,
              input: new Uint8Array(Buffer.from(line.input, "base64")),
            });
          } else {
            if (line.outcome === "refused") report.refused[line.target]++;
            await count(line.target, line.end);
          }
        },
      );
      if (done) break;
      const stopped = killed ? killed.message : `it exited with ${exit}`;
      if (!ready) throw new PipelineError(`Cannot fuzz as the fuzz worker must start: ${stopped}`);
      if (!running) {
        throw new PipelineError(
          `Cannot fuzz as the fuzz worker must stop only inside an input: ${stopped}`,
        );
      }
      await count(running.target, running.iteration, {
        mutation: running.mutation,
        ...(killed ?? { kind: "crash", message: `the process exited with ${exit}` }),
        input: await Deno.readFile(`${scratch}/input`),
      });
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
  if (out !== undefined && report.findings.length > 0) {
    const saved = report.findings.map(({ input: _, ...finding }) => ({ ...finding, seed }));
    await Deno.writeTextFile(`${out}/findings.json`, JSON.stringify(saved, null, 2) + "\n");
  }
  return report;
}

/**
 * This Deno when allowed to run it, else `deno` from the PATH, which is what
 * the task's `--allow-run=deno` allows (it names the PATH's link, not the binary).
 */
function denoCommand(): string {
  const self = Deno.execPath();
  return Deno.permissions.querySync({ name: "run", command: self }).state === "granted"
    ? self
    : "deno";
}

function statusText(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

if (import.meta.main) await runChild(JSON.parse(Deno.args[0]));
