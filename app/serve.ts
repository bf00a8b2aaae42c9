/**
 * Serve: an HTTP prediction service on `Deno.serve`. `POST /predict` takes a
 * PNG digit or JSON pixels (one image, or an array of them) and answers each
 * image's class and probabilities; `GET /` is a draw-a-digit page; `GET
 * /healthz` and `GET /model` describe the service and its model.
 *
 * Concurrent requests share forward passes through a {@linkcode MicroBatcher}.
 * Given a registry, the server polls its `current` file (every `pollMs`) and,
 * when the champion changes, loads the new one completely before swapping a
 * single reference: a batch runs on one model from start to end, every answer
 * names the version that made it, and a model that fails to load leaves the
 * old one serving.
 *
 * @module
 */
import { InputError, PipelineError } from "../engine/errors.ts";
import { ModelError } from "../model/errors.ts";
import { percent } from "../report/format.ts";
import { Deadlines } from "./deadlines.ts";
import { type ItemResult, MicroBatcher } from "./micro_batcher.ts";
import { pngDigit } from "./predict.ts";
import { type DecodedImage, decodePng } from "./png_digit.ts";
import {
  championOf,
  type ImagePrediction,
  isRegistrySource,
  loadServedModel,
  type ModelInfo,
  type ServedModel,
} from "./served_model.ts";
import { SERVE_PAGE } from "./serve_page.ts";

/** The largest request body accepted by default: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The most images one request may hold. */
export const MAX_IMAGES_PER_REQUEST = 1024;

/** Options of {@linkcode startServer}. */
export interface ServeOptions {
  /** A run folder, a model file, or a registry (whose champion is served and followed). */
  model: string;
  /** Interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. @default {8000} */
  port?: number;
  /** Largest request body in bytes; a larger one gets 413. @default {DEFAULT_MAX_BODY_BYTES} */
  maxBodyBytes?: number;
  /** Milliseconds a request may take, body and prediction together; then 408 (body still arriving) or 503. @default {10000} */
  timeoutMs?: number;
  /**
   * Milliseconds the first waiting image waits for others to batch with; 0
   * batches the requests already received, without a timer (see {@linkcode MicroBatcher}).
   * @default {0}
   */
  batchWindowMs?: number;
  /** Most images per forward pass. @default {256} */
  maxBatch?: number;
  /** Milliseconds between looks at a registry's `current`. @default {1000} */
  pollMs?: number;
  /** Where the server logs (listening, swaps, load failures, server errors). @default {() => {}} */
  log?: (line: string) => void;
}

/** A running prediction server; {@linkcode startServer} returns it. */
export interface PredictionServer {
  /** The address it listens on, e.g. `http://127.0.0.1:8000/`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The model answering now. */
  current(): ModelInfo;
  /** Looks at the registry's `current` now; true when a new champion was swapped in. */
  reload(): Promise<boolean>;
  /** Images, requests and forward passes so far. */
  stats(): { requests: number; images: number; batches: number; largest: number };
  /** Stops listening, lets requests in progress finish, and frees the model. */
  close(): Promise<void>;
  /** Stops listening at once, without waiting (for signal cleanups). */
  abort(): void;
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
}

/** A request the server refuses, with the HTTP status that says why. */
export class RequestError extends InputError {
  /** The HTTP status: 400, 404, 405, 408, 409, 413, 415 or 503. */
  readonly status: number;
  /** Extra response headers (`Allow` for 405). */
  readonly headers: Record<string, string>;
  /** Creates the error for `status`; `message` states the action, the rule, the value. */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** One image as the request gave it, before the model's size is applied. */
type ImageInput =
  | { kind: "png"; image: DecodedImage }
  | { kind: "pixels"; pixels: Float32Array };

/** An image's answer: its prediction and the model that made it. */
interface ImageAnswer extends ImagePrediction {
  model: { version: string; testAccuracy: number | null };
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** The routes and the methods each answers. */
const ROUTES: Record<string, string[]> = {
  "/": ["GET", "HEAD"],
  "/healthz": ["GET", "HEAD"],
  "/model": ["GET", "HEAD"],
  "/predict": ["POST"],
};

/** Reads a body of at most `cap` bytes, refusing a larger one (declared or streamed) with 413. */
async function readBody(request: Request, cap: number): Promise<Uint8Array> {
  const tooLarge = (size: string) =>
    new RequestError(
      413,
      `Cannot predict as the request body must be at most ${cap} bytes: current value is ` +
        `${size}. Hint: send fewer images per request`,
    );
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > cap) throw tooLarge(`${declared} bytes`);
  if (declared !== null) {
    // The HTTP layer holds a body to its declared length, so it can be read whole: one read,
    // without a stream reader and a promise per chunk.
    const body = await request.bytes();
    if (body.length > cap) throw tooLarge(`${body.length} bytes`);
    return body;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > cap) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`over ${cap} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** The pixels of one JSON image: `{ "pixels": [...] }`, flat or as rows, each 0..255. */
function pixelsOf(value: unknown, where: string, size: number, shape: string): Float32Array {
  const fail = (rule: string, current: string) =>
    new RequestError(
      400,
      `Cannot predict ${where} as ${rule}: current value is ${current}. Hint: send ` +
        `{ "pixels": [${size} values 0..255, row by row] }`,
    );
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail(`it must be an object with "pixels"`, JSON.stringify(value)?.slice(0, 60) ?? "");
  }
  let pixels = (value as { pixels?: unknown }).pixels;
  if (!Array.isArray(pixels)) {
    throw fail(`its "pixels" must be an array`, JSON.stringify(pixels)?.slice(0, 60) ?? "none");
  }
  if (pixels.length > 0 && pixels.every(Array.isArray)) pixels = (pixels as unknown[][]).flat();
  const list = pixels as unknown[];
  if (list.length !== size) {
    throw fail(`its "pixels" must hold ${shape} = ${size} values`, `${list.length} values`);
  }
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = list[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 255)) {
      throw fail(`every pixel must be a number from 0 to 255`, `${JSON.stringify(v)} at ${i}`);
    }
    out[i] = v;
  }
  return out;
}

/** Parses a predict body into images; `single` says whether one object (not an array) came. */
function parsePredictBody(
  type: string,
  body: Uint8Array,
  model: ServedModel,
): { images: ImageInput[]; single: boolean } {
  if (body.length === 0) {
    throw new RequestError(
      400,
      `Cannot predict as the request body must hold an image: it is empty. Hint: POST a PNG ` +
        `(image/png) or { "pixels": [...] } (application/json)`,
    );
  }
  if (type === "image/png") {
    try {
      return { images: [{ kind: "png", image: decodePng(body, "request body") }], single: true };
    } catch (error) {
      if (error instanceof InputError) throw new RequestError(400, error.message);
      throw error;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new RequestError(
      400,
      `Cannot predict as the request body must be valid JSON: ${(error as Error).message}`,
    );
  }
  const { rows, cols } = model.model.preprocessing;
  const shape = `${rows}×${cols}`;
  if (!Array.isArray(value)) {
    return {
      images: [{ kind: "pixels", pixels: pixelsOf(value, "the image", rows * cols, shape) }],
      single: true,
    };
  }
  if (value.length === 0 || value.length > MAX_IMAGES_PER_REQUEST) {
    throw new RequestError(
      value.length === 0 ? 400 : 413,
      `Cannot predict as a JSON array must hold 1 to ${MAX_IMAGES_PER_REQUEST} images: current ` +
        `value is ${value.length}`,
    );
  }
  return {
    images: value.map((v, i) => ({
      kind: "pixels" as const,
      pixels: pixelsOf(v, `image ${i}`, rows * cols, shape),
    })),
    single: false,
  };
}

/** The content type's media type, lower case, without parameters. */
function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Runs a batch of images on one model: each becomes a raw rows × cols image
 * (a PNG is cropped, fitted and centred as predict does), then all are
 * preprocessed and predicted together.
 */
function predictBatch(model: ServedModel, images: ImageInput[]): ItemResult<ImageAnswer>[] {
  const { rows, cols } = model.model.preprocessing;
  const width = rows * cols;
  const raw = new Float32Array(images.length * width);
  const results: ItemResult<ImageAnswer>[] = new Array(images.length);
  const slots: number[] = [];
  for (const [i, input] of images.entries()) {
    const pixels = input.kind === "png" ? pngDigit(input.image, rows, cols) : input.pixels;
    if (pixels.length !== width) {
      // Only when a swap brought a model of another image size between parse and batch.
      results[i] = {
        ok: false,
        error: new RequestError(
          409,
          `Cannot predict as the image must have the model's ${rows}×${cols} pixels: current ` +
            `value is ${pixels.length} pixels. Hint: the model changed; ask /model and retry`,
        ),
      };
      continue;
    }
    raw.set(pixels, slots.length * width);
    slots.push(i);
  }
  const { version, testAccuracy } = model.info;
  let predictions: ImagePrediction[];
  try {
    predictions = model.predict(raw, slots.length);
  } catch (error) {
    if (!(error instanceof ModelError)) throw error;
    // A non-finite output on one image: predict each alone so the others still get answers.
    predictions = [];
    for (const [k, i] of slots.entries()) {
      try {
        predictions.push(model.predict(raw.subarray(k * width, (k + 1) * width), 1)[0]);
      } catch (one) {
        if (!(one instanceof ModelError)) throw one;
        results[i] = { ok: false, error: one };
        predictions.push(null as unknown as ImagePrediction);
      }
    }
  }
  for (const [k, i] of slots.entries()) {
    if (results[i]) continue;
    results[i] = { ok: true, value: { ...predictions[k], model: { version, testAccuracy } } };
  }
  return results;
}

/** The `/model` document: where the model came from, its layers and preprocessing. */
function modelDocument(model: ServedModel) {
  const { spec, preprocessing } = model.model;
  return {
    ...model.info,
    layers: spec.sizes,
    activation: spec.activation,
    output: spec.output,
    preprocessing,
  };
}

/**
 * Loads the model and starts the server; resolves once it listens. Throws what
 * {@linkcode loadServedModel} throws when the model does not load.
 */
export async function startServer(options: ServeOptions): Promise<PredictionServer> {
  const {
    model: source,
    hostname = "127.0.0.1",
    port = 8000,
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    timeoutMs = 10_000,
    batchWindowMs = 0,
    maxBatch = 256,
    pollMs = 1000,
    log = () => {},
  } = options;
  const deadlines = new Deadlines(timeoutMs);
  let served = await loadServedModel(source, maxBatch);
  const follows = await isRegistrySource(source);
  let requests = 0;
  // A batch takes the model reference once, when it runs: it never sees two models.
  const batcher = new MicroBatcher<ImageInput, ImageAnswer>(
    (images) => predictBatch(served, images),
    { maxItems: maxBatch, windowMs: batchWindowMs },
  );

  let loading: Promise<boolean> | null = null;
  let lastFailure = "";
  async function checkChampion(): Promise<boolean> {
    let next: ServedModel;
    try {
      const id = await championOf(source);
      if (id === null || id === served.info.version) return false;
      next = await loadServedModel(source, maxBatch);
    } catch (error) {
      if (!(error instanceof PipelineError || error instanceof ModelError)) throw error;
      // Said once per cause: the poll keeps meeting it until someone fixes the registry.
      if (error.message !== lastFailure) {
        log(`serve: keeps ${served.info.version}: cannot load the new champion: ${error.message}`);
        lastFailure = error.message;
      }
      return false;
    }
    if (next.info.version === served.info.version) {
      next.close();
      return false;
    }
    const previous = served;
    served = next; // the swap: every batch from here on runs on the new model
    previous.close();
    lastFailure = "";
    log(
      `serve: swapped in ${next.info.version} (test accuracy ${accuracyText(next.info)}), ` +
        `replacing ${previous.info.version}`,
    );
    return true;
  }
  function reload(): Promise<boolean> {
    if (!follows) return Promise.resolve(false);
    // One load at a time: a poll that finds one under way waits for it.
    loading ??= checkChampion().finally(() => loading = null);
    return loading;
  }
  const poll = follows
    ? setInterval(() => {
      reload().catch((error) => log(`serve: cannot check the champion: ${error.message}`));
    }, pollMs)
    : null;

  async function predictRoute(request: Request, phase: { reading: boolean }): Promise<Response> {
    const type = mediaType(request);
    if (type !== "image/png" && type !== "application/json") {
      throw new RequestError(
        415,
        `Cannot predict as the content type must be image/png or application/json: current ` +
          `value is "${request.headers.get("content-type") ?? ""}"`,
      );
    }
    phase.reading = true;
    const body = await readBody(request, maxBodyBytes);
    phase.reading = false;
    const { images, single } = parsePredictBody(type, body, served);
    const results = await batcher.submit(images);
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;
    const answers = results.map((r) => (r as { value: ImageAnswer }).value);
    return json(single ? answers[0] : answers);
  }

  async function route(request: Request, phase: { reading: boolean }): Promise<Response> {
    const path = new URL(request.url).pathname;
    const methods = ROUTES[path];
    if (!methods) {
      throw new RequestError(
        404,
        `Cannot find "${path}" as the path must be one of ${Object.keys(ROUTES).join(", ")}`,
      );
    }
    if (!methods.includes(request.method)) {
      throw new RequestError(
        405,
        `Cannot ${request.method} "${path}" as it answers ${methods.join(", ")} only`,
        { allow: methods.join(", ") },
      );
    }
    if (path === "/") {
      return new Response(SERVE_PAGE, {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
      });
    }
    if (path === "/healthz") {
      return json({ status: "ok", version: served.info.version });
    }
    if (path === "/model") return json(modelDocument(served));
    return await predictRoute(request, phase);
  }

  async function handler(request: Request): Promise<Response> {
    requests++;
    // A body still arriving at the deadline is the client's delay (408); anything else is ours (503).
    const phase = { reading: false };
    const { promise: timedOut, reject } = Promise.withResolvers<never>();
    const timeout = deadlines.set(() =>
      reject(
        new RequestError(
          phase.reading ? 408 : 503,
          `Cannot answer ${request.method} ${new URL(request.url).pathname} as a request must ` +
            `finish within ${timeoutMs} ms: ${
              phase.reading ? "its body was still arriving" : "it did not"
            }`,
        ),
      )
    );
    try {
      return await Promise.race([route(request, phase), timedOut]);
    } catch (error) {
      if (error instanceof RequestError) {
        return json({ error: error.message }, error.status, error.headers);
      }
      if (error instanceof InputError) return json({ error: error.message }, 400);
      log(`serve: error answering ${request.method} ${request.url}: ${(error as Error).stack}`);
      return json(
        { error: `Cannot answer as the server failed: ${(error as Error).message}` },
        500,
      );
    } finally {
      timeout.clear();
    }
  }

  const controller = new AbortController();
  const { promise: listening, resolve: listened } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname, port, signal: controller.signal, onListen: (addr) => listened(addr) },
    handler,
  );
  const addr = await listening;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${shown}:${addr.port}/`;
  const stop = () => {
    if (poll !== null) clearInterval(poll);
    batcher.close();
  };
  const finished = server.finished.then(async () => {
    stop();
    deadlines.close();
    await loading?.catch(() => {});
    served.close();
  });
  log(
    `serve: ${served.info.version} (test accuracy ${accuracyText(served.info)}) on ${url}` +
      (follows ? `, following the champion of "${source}" (polled every ${pollMs} ms)` : ""),
  );
  return {
    url,
    port: addr.port,
    current: () => served.info,
    reload,
    stats: () => {
      const { items, batches, largest } = batcher.stats();
      return { requests, images: items, batches, largest };
    },
    async close() {
      stop();
      await server.shutdown();
      await finished;
    },
    abort() {
      stop();
      controller.abort();
    },
    finished,
  };
}

function accuracyText(info: ModelInfo): string {
  return info.testAccuracy === null ? "unknown" : percent(info.testAccuracy);
}
