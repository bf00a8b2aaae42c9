/**
 * `deno task serve`: an HTTP prediction service and a draw-a-digit page for a
 * saved model, following a registry's champion.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { numberFlag } from "../app/config.ts";
import { MAX_PNG_PIXELS } from "../app/png_digit.ts";
import { DEFAULT_MAX_BODY_BYTES, MAX_IMAGES_PER_REQUEST, startServer } from "../app/serve.ts";
import { onCleanup } from "../engine/cleanup.ts";
import { DEFAULT_REGISTRY } from "../registry/registry.ts";
import { type Console, EXIT_CODES_HELP } from "./io.ts";

/** The help text of `serve`. */
export const SERVE_HELP = `Usage: deno task serve [--model RUN_DIR|FILE|models/] [flags]

Serves predictions over HTTP until Ctrl-C or SIGTERM:
  GET  /          a page to draw a digit on, with live class probabilities
  POST /predict   a PNG (content type image/png) or JSON { "pixels": [rows×cols values 0..255] },
                  or a JSON array of up to ${MAX_IMAGES_PER_REQUEST} such objects; answers
                  { "class", "probabilities", "model": { "version", "testAccuracy" } } (an array
                  for an array); every image goes through the model's own preprocessing
  GET  /model     the model: version, layers, preprocessing, test accuracy
  GET  /healthz   { "status": "ok", "version" }
A bad request gets a 4xx and { "error": "…" }: 400 malformed, 404 unknown path, 405 wrong
method, 408 body still arriving at --timeout-ms, 413 body too large, 415 wrong content type;
503 when the server itself runs past --timeout-ms. A PNG must declare at most ${MAX_PNG_PIXELS}
pixels (16 megapixels); a larger one is refused from its header, before decoding, with 400.

With a registry, its "current" file is polled and a new champion (a retrain's promotion, a
rollback) is loaded in full, then swapped in for the next batch; requests never fail for it.

  --model PATH            a run folder, a model file, or a registry (default ${DEFAULT_REGISTRY}/)
  --host NAME             interface to listen on (default 127.0.0.1)
  --port N                port (default 8000; 0 picks a free one)
  --max-body-bytes N      largest request body (default ${DEFAULT_MAX_BODY_BYTES}, 4 MiB)
  --timeout-ms N          most time for one request (default 10000)
  --poll-ms N             how often to look at the registry's champion (default 1000)
  --batch-window-ms N     how long an image waits for others to share a forward pass (default 0:
                          the requests already received share one, without waiting longer)
  --max-batch N           most images per forward pass (default 256)
  --help                  this text

The task may listen only on 127.0.0.1:8000 and read only the project. To serve elsewhere, run
  deno run --allow-read=. --allow-net=0.0.0.0:9000 main.ts serve --host 0.0.0.0 --port 9000
(add the model's folder to --allow-read when it lies outside the project).

${EXIT_CODES_HELP}`;

/** The flags of `serve`. */
export const SERVE_OPTIONS = {
  model: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "max-body-bytes": { type: "string" },
  "timeout-ms": { type: "string" },
  "poll-ms": { type: "string" },
  "batch-window-ms": { type: "string" },
  "max-batch": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `serve`: returns 0 once the server stops (it runs until a signal stops the process). */
export async function serveCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: SERVE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(`error: serve takes no positional arguments: got "${positionals[0]}". Run with --help`);
    return 2;
  }
  const int = (flag: string, value: string | undefined, min: number, max: number) =>
    value === undefined ? undefined : numberFlag(flag, value, { integer: true, min, max });
  const server = await startServer({
    model: values.model ?? DEFAULT_REGISTRY,
    hostname: values.host,
    port: int("port", values.port, 0, 65535),
    maxBodyBytes: int("max-body-bytes", values["max-body-bytes"], 1, 1 << 30),
    timeoutMs: int("timeout-ms", values["timeout-ms"], 1, 3_600_000),
    pollMs: int("poll-ms", values["poll-ms"], 10, 3_600_000),
    batchWindowMs: int("batch-window-ms", values["batch-window-ms"], 0, 1000),
    maxBatch: int("max-batch", values["max-batch"], 1, 65536),
    log: (line) => io.err(line),
  });
  // Ctrl-C or SIGTERM: main.ts runs the cleanups, which stop listening, and exits.
  const forget = onCleanup(() => server.abort());
  try {
    await server.finished;
  } finally {
    forget();
  }
  return 0;
}
