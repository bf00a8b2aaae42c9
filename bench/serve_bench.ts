/**
 * `deno task bench:serve [--model PATH] [--requests N] [--warmup N] [--clients N]
 * [--max-seconds S] [--window-ms N] [--max-batch N]`: a bounded load on the
 * prediction server over loopback. It serves a model from a temporary registry
 * of two versions (the model given, the project's champion in `models/`, or
 * one it trains in a few seconds on bundled MNIST), sends single-image PNG
 * requests (real MNIST test digits) from `--clients` concurrent clients on a
 * worker thread: first `--warmup` requests that are answered but not counted
 * (the JIT compiles the request path on them), then `--requests` measured ones
 * or until `--max-seconds` pass, promoting the second version halfway through
 * those. It prints requests per second, p50/p99 latency (from just before
 * each fetch to its parsed answer, as the client sees it), failures and the
 * versions that answered. Loopback only; it stops by itself and removes its
 * temp folder.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { PNG } from "pngjs";
import { bundledDataDir } from "../app/bundled.ts";
import { startServer } from "../app/serve.ts";
import { main } from "../main.ts";
import { MODEL_FILE } from "../engine/run_folder.ts";
import { promoteVersion } from "../registry/champion.ts";
import {
  DEFAULT_REGISTRY,
  installVersion,
  isRegistry,
  readCurrent,
  versionDir,
  versionId,
  writeCurrent,
} from "../registry/registry.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import { resolveModelPath } from "../app/predict.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    requests: { type: "string", default: "20000" },
    warmup: { type: "string", default: "1000" },
    clients: { type: "string", default: "16" },
    "max-seconds": { type: "string", default: "30" },
    "window-ms": { type: "string" },
    "max-batch": { type: "string" },
  },
  strict: true,
});
const REQUESTS = Number(flags.requests), CLIENTS = Number(flags.clients);
const WARMUP = Number(flags.warmup);
const MAX_MS = 1000 * Number(flags["max-seconds"]);
if (![REQUESTS, CLIENTS, MAX_MS].every((n) => Number.isInteger(n) && n > 0)) {
  throw new RangeError("--requests, --clients and --max-seconds must be positive integers");
}
if (!(Number.isInteger(WARMUP) && WARMUP >= 0)) {
  throw new RangeError("--warmup must be a non-negative integer");
}

// The clients: a worker thread, so their work runs beside the server's, not on its thread.
const CLIENT = `self.onmessage = async ({ data }) => {
  const { url, pngs, requests, warmup, clients, maxMs } = data;
  // Sends \`total\` requests from \`clients\` concurrent clients; \`record\` sees each answer.
  async function run(total, deadline, record) {
    let sent = 0;
    async function client() {
      while (sent < total && performance.now() < deadline) {
        const k = sent++;
        const t0 = performance.now();
        let outcome;
        try {
          const response = await fetch(url + "predict", {
            method: "POST", headers: { "content-type": "image/png" }, body: pngs[k % pngs.length],
          });
          const body = await response.json();
          outcome = response.ok ? { version: body.model.version }
            : { error: response.status + " " + body.error };
        } catch (error) {
          outcome = { error: String(error.message) };
        }
        record(k, performance.now() - t0, outcome);
      }
    }
    await Promise.all(Array.from({ length: clients }, client));
  }
  let warmFailed = 0, warmFailure = "";
  await run(warmup, performance.now() + maxMs, (k, ms, { error }) => {
    if (error) {
      warmFailed++;
      warmFailure ||= error;
    }
  });
  const latencies = [], versions = {};
  let answered = 0, failed = warmFailed, firstFailure = warmFailure, halfSaid = false;
  self.postMessage({ measuring: true });
  const start = performance.now();
  await run(requests, start + maxMs, (k, ms, { version, error }) => {
    latencies.push(ms);
    if (error) {
      failed++;
      firstFailure ||= error;
    } else {
      versions[version] = (versions[version] ?? 0) + 1;
      answered++;
    }
    if (!halfSaid && k + 1 >= requests / 2) {
      halfSaid = true;
      self.postMessage({ half: k + 1 });
    }
  });
  self.postMessage({ done: { latencies, answered, failed, firstFailure, versions,
    elapsedMs: performance.now() - start } });
};`;

const work = await Deno.makeTempDir({ prefix: "mnp-serve-bench-" });
try {
  const modelFile = await findOrTrainModel(work);
  const registry = `${work}/models`;
  await Deno.mkdir(registry);
  // Both versions are copies of one model: the swap is measured, not a change of answers.
  const testAccuracy = await accuracyBeside(modelFile);
  for (const n of [1, 2]) {
    const run = `${work}/run${n}`;
    await Deno.mkdir(run);
    await Deno.copyFile(modelFile, `${run}/${MODEL_FILE}`);
    await installVersion(registry, run, {
      id: versionId(n),
      createdAt: new Date().toISOString(),
      dataFingerprint: "bench",
      configHash: `bench${n}`,
      testAccuracy,
      testSetFingerprint: "bench",
      dataSet: "bench",
    });
  }
  await writeCurrent(registry, "v0001");
  const pngs = await digitPngs(64);
  const logs: string[] = [];
  const server = await startServer({
    model: registry,
    port: 0,
    pollMs: 100,
    // Unset flags leave the server's defaults, so the bench measures what `deno task serve` runs.
    ...(flags["window-ms"] === undefined ? {} : { batchWindowMs: Number(flags["window-ms"]) }),
    ...(flags["max-batch"] === undefined ? {} : { maxBatch: Number(flags["max-batch"]) }),
    log: (l) => logs.push(l),
  });
  try {
    let cpu0 = process.cpuUsage(), stats0 = server.stats();
    const result = await load(
      server.url,
      pngs,
      () => {
        cpu0 = process.cpuUsage();
        stats0 = server.stats();
      },
      () => promoteVersion(registry, "v0002", { log() {} }),
    );
    const cpu = process.cpuUsage(cpu0);
    const cpuPerRequest = (cpu.user + cpu.system) / Math.max(1, result.answered);
    const end = server.stats();
    const stats = {
      batches: end.batches - stats0.batches,
      images: end.images - stats0.images,
      largest: end.largest,
    };
    const lat = result.latencies.sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
    const seconds = result.elapsedMs / 1000;
    console.log(
      `serve bench: ${result.answered} single-image PNG requests, ${CLIENTS} clients, ` +
        `loopback, ${Deno.build.os} ${navigator.hardwareConcurrency} cores, after ${WARMUP} ` +
        `warm-up requests (not counted)`,
    );
    console.log(
      `  throughput   ${(result.answered / seconds).toFixed(0)} requests/s ` +
        `(= predictions/s) over ${seconds.toFixed(2)} s`,
    );
    console.log(
      `  latency      p50 ${pct(0.5).toFixed(2)} ms  p99 ${pct(0.99).toFixed(2)} ms  ` +
        `max ${lat.at(-1)?.toFixed(2)} ms`,
    );
    console.log(
      `  failed       ${result.failed}${result.firstFailure ? ` (${result.firstFailure})` : ""}`,
    );
    console.log(
      `  batches      ${stats.batches} forward passes, ${
        (stats.images / stats.batches).toFixed(1)
      } ` +
        `images each on average, largest ${stats.largest}`,
    );
    console.log(
      `  versions     ${
        Object.entries(result.versions).map(([v, n]) => `${v}: ${n}`).join(", ")
      } ` +
        `(promoted v0002 after ${result.promotedAt} requests)`,
    );
    console.log(
      `  cpu          ${cpuPerRequest.toFixed(0)} µs of process CPU per request (server, clients ` +
        `and HTTP threads together; on a shared machine)`,
    );
    for (const line of logs.filter((l) => l.includes("swapped"))) console.log(`  ${line}`);
  } finally {
    await server.close();
  }
} finally {
  await Deno.remove(work, { recursive: true });
}

/** The test accuracy in the metrics.json beside a model file, or 0 when there is none. */
async function accuracyBeside(modelFile: string): Promise<number> {
  const folder = modelFile.slice(0, modelFile.lastIndexOf("/") + 1) || "./";
  try {
    const { testAccuracy } = JSON.parse(await Deno.readTextFile(`${folder}metrics.json`));
    return typeof testAccuracy === "number" ? testAccuracy : 0;
  } catch {
    return 0;
  }
}

/** The model to serve: --model, else the project's champion, else one trained now on MNIST. */
async function findOrTrainModel(work: string): Promise<string> {
  if (flags.model) return await resolveModelPath(flags.model);
  if (await isRegistry(DEFAULT_REGISTRY) && await readCurrent(DEFAULT_REGISTRY)) {
    const file = `${
      versionDir(DEFAULT_REGISTRY, (await readCurrent(DEFAULT_REGISTRY))!)
    }/${MODEL_FILE}`;
    console.log(`serving a copy of the champion ${file}`);
    return file;
  }
  console.log("no champion in models/: training a 784-100-10 network for 1 epoch on MNIST …");
  const out = `${work}/trained`;
  const code = await main([
    "pipeline",
    "--epochs",
    "1",
    "--hidden",
    "100",
    "--optimizer",
    "adam",
    "--eta",
    "0.001",
    "--batch-size",
    "64",
    "--out",
    out,
    "--cache-dir",
    `${work}/cache`,
  ], { out: () => {}, err: () => {} });
  if (code !== 0) throw new Error(`training the bench model failed with exit code ${code}`);
  return `${out}/${MODEL_FILE}`;
}

/** The first n MNIST test digits, each as a 28×28 gray PNG (white ink on black, as MNIST). */
async function digitPngs(n: number): Promise<Uint8Array[]> {
  const { dims, data } = await decodeIdxFile(`${bundledDataDir()}/t10k-images-idx3-ubyte`, 3);
  const [, rows, cols] = dims;
  return Array.from({ length: n }, (_, k) => {
    const png = new PNG({ width: cols, height: rows });
    for (let i = 0; i < rows * cols; i++) {
      const v = data[k * rows * cols + i];
      png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = v;
      png.data[4 * i + 3] = 255;
    }
    return new Uint8Array(PNG.sync.write(png));
  });
}

/** What the load worker reports. */
interface LoadResult {
  latencies: number[];
  answered: number;
  failed: number;
  firstFailure: string;
  elapsedMs: number;
  versions: Record<string, number>;
  promotedAt: number;
}

/**
 * Runs the load from a worker; calls `measuring` when the warm-up is over and
 * `promote` once half the measured requests are answered.
 */
function load(
  url: string,
  pngs: Uint8Array[],
  measuring: () => void,
  promote: () => Promise<unknown>,
): Promise<LoadResult> {
  const blob = URL.createObjectURL(new Blob([CLIENT], { type: "text/javascript" }));
  const worker = new Worker(blob, { type: "module" });
  return new Promise((resolve, reject) => {
    let promotedAt = -1;
    let promotion: Promise<unknown> = Promise.resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(`the load worker failed: ${event.message}`));
    };
    worker.onmessage = async ({ data }) => {
      if (data.measuring) return measuring();
      if (data.half !== undefined) {
        promotedAt = data.half;
        promotion = promote();
        return;
      }
      worker.terminate();
      URL.revokeObjectURL(blob);
      await promotion;
      resolve({ ...data.done, promotedAt });
    };
    worker.postMessage({
      url,
      pngs,
      requests: REQUESTS,
      warmup: WARMUP,
      clients: CLIENTS,
      maxMs: MAX_MS,
    });
  });
}
