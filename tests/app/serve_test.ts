import assert from "node:assert/strict";
import { PNG } from "pngjs";
import { MicroBatcher } from "../../app/micro_batcher.ts";
import { predictFiles } from "../../app/predict.ts";
import { type PredictionServer, type ServeOptions, startServer } from "../../app/serve.ts";
import { ConfigError } from "../../engine/errors.ts";
import { MODEL_FILE } from "../../engine/run_folder.ts";
import { encodeModel, type SavedModel } from "../../model/format.ts";
import { createNetwork } from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";
import { promoteVersion } from "../../registry/champion.ts";
import {
  installVersion,
  versionId,
  type VersionInfo,
  writeCurrent,
} from "../../registry/registry.ts";
import { idxBytes, tempDir } from "../fixtures.ts";

const ROWS = 10, COLS = 10, CLASSES = 4;

/** A 100-12-4 network with seeded weights over 10×10 images; `deskew` as given. */
function handModel(seed: number, deskew = false): SavedModel {
  const net = createNetwork({
    sizes: [ROWS * COLS, 12, CLASSES],
    activation: "tanh",
    output: "softmax",
  });
  const random = seededRandom(seed, "serve-test");
  const params = net.params as Float32Array;
  for (let i = 0; i < params.length; i++) params[i] = random() * 2 - 1;
  return {
    spec: net.spec,
    preprocessing: {
      rows: ROWS,
      cols: COLS,
      normalization: { mode: "standardize", mean: 40, std: 80 },
      deskew,
    },
    params,
  };
}

/** A run folder holding `model` and a metrics.json with `testAccuracy`. */
async function runFolder(model: SavedModel, testAccuracy = 0.875): Promise<string> {
  const dir = `${await tempDir({ prefix: "mnp-serve-run-" })}/run`;
  await Deno.mkdir(dir);
  await Deno.writeFile(`${dir}/${MODEL_FILE}`, encodeModel(model));
  await Deno.writeTextFile(`${dir}/metrics.json`, JSON.stringify({ testAccuracy }));
  return dir;
}

/** A registry with one version per model, the first the champion. */
async function registryOf(models: SavedModel[]): Promise<string> {
  const dir = `${await tempDir({ prefix: "mnp-serve-reg-" })}/models`;
  await Deno.mkdir(dir, { recursive: true });
  for (const [i, model] of models.entries()) {
    const info: VersionInfo = {
      id: versionId(i + 1),
      createdAt: new Date().toISOString(),
      dataFingerprint: "data",
      configHash: `config${i}`,
      testAccuracy: 0.5 + i / 10,
      testSetFingerprint: "test",
      dataSet: "synthetic",
    };
    await installVersion(dir, await runFolder(model), info);
  }
  await writeCurrent(dir, "v0001");
  return dir;
}

/** n seeded 10×10 images, 0..255, with a bright blob somewhere in each. */
function images(n: number, seed = 3): Uint8Array {
  const random = seededRandom(seed, "serve-images");
  const out = new Uint8Array(n * ROWS * COLS);
  for (let k = 0; k < n; k++) {
    const r0 = 1 + Math.floor(random() * 6), c0 = 1 + Math.floor(random() * 6);
    for (let r = r0; r < r0 + 3; r++) {
      for (let c = c0; c < c0 + 3; c++) out[k * 100 + r * COLS + c] = 255;
    }
    out[k * 100 + Math.floor(random() * 100)] = Math.floor(random() * 256);
  }
  return out;
}

/** A gray picture of a slanted bar as PNG bytes, dark ink on white. */
function barPng(width = 40, height = 40): Uint8Array<ArrayBuffer> {
  const png = new PNG({ width, height });
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = 4 * (r * width + c);
      const ink = Math.abs(c - (10 + r / 3)) < 3 && r > 5 && r < 35;
      png.data[i] = png.data[i + 1] = png.data[i + 2] = ink ? 0 : 255;
      png.data[i + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** What predict prints for images written as an IDX file: the reference answers. */
async function predictReference(model: string, pixels: Uint8Array) {
  const file = `${await tempDir()}/images-idx3-ubyte`;
  await Deno.writeFile(file, idxBytes([pixels.length / 100, ROWS, COLS], pixels));
  return (await predictFiles(model, [file])).predictions;
}

/** Starts a server on a free loopback port and closes it after `fn`. */
async function withServer(
  options: Omit<ServeOptions, "port">,
  fn: (server: PredictionServer, logs: string[]) => Promise<void>,
): Promise<void> {
  const logs: string[] = [];
  const server = await startServer({ port: 0, log: (l) => logs.push(l), ...options });
  try {
    await fn(server, logs);
  } finally {
    await server.close();
  }
}

/** POSTs JSON to /predict and returns the status and parsed body. */
async function postJson(server: PredictionServer, body: unknown) {
  const response = await fetch(`${server.url}predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const pixelsOf = (all: Uint8Array, k: number) => Array.from(all.subarray(k * 100, (k + 1) * 100));

Deno.test("MicroBatcher gives each caller its own results in order, one run for concurrent calls", async () => {
  const runs: number[][] = [];
  const batcher = new MicroBatcher((items: number[]) => {
    runs.push(items);
    return items.map((x) => ({ ok: true as const, value: x * 2 }));
  }, { maxItems: 5, windowMs: 5 });
  const calls = [[1, 2], [3], [4, 5], [6, 7, 8]].map((items) => batcher.submit(items));
  const results = await Promise.all(calls);
  assert.deepEqual(results.map((r) => r.map((x) => x.ok && x.value)), [[2, 4], [6], [8, 10], [
    12,
    14,
    16,
  ]]);
  // A caller that would overflow the waiting batch sends it first; a full batch runs at once.
  assert.deepEqual(runs, [[1, 2, 3, 4, 5], [6, 7, 8]]);
  assert.deepEqual(batcher.stats(), { submits: 4, items: 8, batches: 2, largest: 5 });
  assert.deepEqual(await batcher.submit([]), []);
});

Deno.test("MicroBatcher with a window of 0 batches the callers of one turn of the event loop", async () => {
  const runs: number[][] = [];
  const batcher = new MicroBatcher((items: number[]) => {
    runs.push(items);
    return items.map((x) => ({ ok: true as const, value: -x }));
  }, { windowMs: 0 });
  const first = [batcher.submit([1]), batcher.submit([2, 3]), batcher.submit([4])];
  // A caller that comes after a timer is a later turn: it opens the next batch.
  const later = new Promise((resolve) => setTimeout(resolve, 0)).then(() => batcher.submit([5]));
  assert.deepEqual((await Promise.all(first)).map((r) => r.map((x) => x.ok && x.value)), [
    [-1],
    [-2, -3],
    [-4],
  ]);
  assert.deepEqual((await later).map((x) => x.ok && x.value), [-5]);
  assert.deepEqual(runs, [[1, 2, 3, 4], [5]]);
  batcher.close();
});

Deno.test("MicroBatcher rejects every caller of a batch whose run throws, and refuses bad options", async () => {
  const batcher = new MicroBatcher<number, number>(() => {
    throw new RangeError("boom");
  });
  const both = [batcher.submit([1]), batcher.submit([2])];
  for (const call of both) await assert.rejects(call, { name: "RangeError", message: "boom" });
  assert.throws(() => new MicroBatcher(() => [], { maxItems: 0 }), {
    name: ConfigError.name,
    message: "Cannot batch as maxItems must be a positive integer: current value is 0",
  });
  assert.throws(() => new MicroBatcher(() => [], { windowMs: -1 }), {
    message: "Cannot batch as windowMs must be from 0 to 1000: current value is -1",
  });
});

Deno.test("serve: GET / is a self-contained draw-a-digit page", async () => {
  const run = await runFolder(handModel(1));
  await withServer({ model: run }, async (server) => {
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/html/);
    const html = await response.text();
    assert.match(html, /<canvas id="pad"/);
    assert.match(html, /id="clear"/);
    assert.match(html, /fetch\("\/predict"/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
  });
});

Deno.test("serve: GET /healthz and GET /model describe the model; HEAD works too", async () => {
  const model = handModel(1, true);
  const run = await runFolder(model, 0.875);
  await withServer({ model: run }, async (server) => {
    const health = await fetch(`${server.url}healthz`);
    assert.deepEqual(await health.json(), { status: "ok", version: "run" });
    const doc = await (await fetch(`${server.url}model`)).json();
    assert.equal(doc.version, "run");
    assert.equal(doc.testAccuracy, 0.875);
    assert.equal(doc.path, `${run}/${MODEL_FILE}`);
    assert.deepEqual(doc.layers, [100, 12, 4]);
    assert.equal(doc.activation, "tanh");
    assert.equal(doc.output, "softmax");
    assert.deepEqual(doc.preprocessing, model.preprocessing);
    const head = await fetch(`${server.url}healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    await head.body?.cancel();
  });
});

Deno.test("serve: POST /predict with a PNG answers exactly what predict answers for that PNG", async () => {
  for (const deskew of [false, true]) {
    const run = await runFolder(handModel(2, deskew));
    const file = `${await tempDir()}/digit.png`;
    await Deno.writeFile(file, barPng());
    const [expected] = (await predictFiles(run, [file])).predictions;
    await withServer({ model: run }, async (server) => {
      const response = await fetch(`${server.url}predict`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: barPng(),
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        class: expected.predicted,
        probabilities: expected.probabilities,
        model: { version: "run", testAccuracy: 0.875 },
      });
    });
  }
});

Deno.test("serve: POST /predict with JSON pixels, one or an array, answers as predict does, in order", async () => {
  const run = await runFolder(handModel(3, true));
  const all = images(7);
  const expected = await predictReference(run, all);
  await withServer({ model: run }, async (server) => {
    const one = await postJson(server, { pixels: pixelsOf(all, 0) });
    assert.equal(one.status, 200);
    assert.equal(one.body.class, expected[0].predicted);
    assert.deepEqual(one.body.probabilities, expected[0].probabilities);
    // Pixels may also come as rows.
    const rows = Array.from(
      { length: ROWS },
      (_, r) => pixelsOf(all, 1).slice(r * 10, r * 10 + 10),
    );
    assert.deepEqual((await postJson(server, { pixels: rows })).body.class, expected[1].predicted);
    const many = await postJson(server, expected.map((_, k) => ({ pixels: pixelsOf(all, k) })));
    assert.equal(many.status, 200);
    assert.deepEqual(
      many.body.map((a: { class: number; probabilities: number[] }) => [a.class, a.probabilities]),
      expected.map((p) => [p.predicted, p.probabilities]),
    );
  });
});

Deno.test("serve: 64 concurrent requests share forward passes and each gets its own answer", async () => {
  const run = await runFolder(handModel(4));
  const all = images(64, 9);
  const expected = await predictReference(run, all);
  await withServer({ model: run, batchWindowMs: 5 }, async (server) => {
    const answers = await Promise.all(
      expected.map((_, k) => postJson(server, { pixels: pixelsOf(all, k) })),
    );
    for (const [k, answer] of answers.entries()) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.class, expected[k].predicted, `request ${k}`);
      assert.deepEqual(answer.body.probabilities, expected[k].probabilities, `request ${k}`);
    }
    const stats = server.stats();
    assert.equal(stats.images, 64);
    assert.ok(stats.batches < 64 && stats.largest > 1, JSON.stringify(stats));
  });
});

/** A 67-byte PNG declaring 20000×20000 pixels (from app/png_digit.ts's example). */
const PNG_BOMB = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAATiAAAE4gCAAAAADGGxnlAAAACklEQVR4nGNgBAAAAwACS/Xd6gAAAABJRU5ErkJggg==",
  ),
  (c) => c.charCodeAt(0),
);

Deno.test("serve: every bad request gets its 4xx and a JSON error, and the server keeps serving", async () => {
  const run = await runFolder(handModel(5));
  await withServer({ model: run, maxBodyBytes: 20_000 }, async (server) => {
    const ask = async (
      path: string,
      init: RequestInit,
      status: number,
      message: RegExp,
    ) => {
      const response = await fetch(`${server.url}${path}`, init);
      assert.equal(response.status, status, `${init.method ?? "GET"} ${path}`);
      assert.match(response.headers.get("content-type")!, /^application\/json/);
      const body = await response.json();
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.match(body.error, message);
      return response;
    };
    const post = (type: string, body: BodyInit) => ({
      method: "POST",
      headers: { "content-type": type },
      body,
    });
    await ask("nope", {}, 404, /^Cannot find "\/nope" as the path must be one of \/, \/healthz/);
    const wrong = await ask("predict", {}, 405, /^Cannot GET "\/predict" as it answers POST only/);
    assert.equal(wrong.headers.get("allow"), "POST");
    await ask("model", { method: "POST" }, 405, /answers GET, HEAD only/);
    await ask(
      "predict",
      post("text/plain", "7"),
      415,
      /content type must be image\/png or application\/json: current value is "text\/plain"/,
    );
    await ask("predict", { method: "POST", body: new Uint8Array([1]) }, 415, /current value is ""/);
    await ask("predict", post("application/json", ""), 400, /body must hold an image: it is empty/);
    await ask("predict", post("application/json", "{"), 400, /body must be valid JSON/);
    await ask(
      "predict",
      post("application/json", "[]"),
      400,
      /1 to 1024 images: current value is 0/,
    );
    await ask("predict", post("application/json", '{"px":[]}'), 400, /"pixels" must be an array/);
    await ask("predict", post("application/json", "7"), 400, /must be an object with "pixels"/);
    await ask(
      "predict",
      post("application/json", JSON.stringify({ pixels: [1, 2, 3] })),
      400,
      /must hold 10×10 = 100 values: current value is 3 values/,
    );
    const bad = new Array(100).fill(0);
    bad[7] = 256;
    await ask(
      "predict",
      post(
        "application/json",
        JSON.stringify([{ pixels: new Array(100).fill(0) }, { pixels: bad }]),
      ),
      400,
      /^Cannot predict image 1 as every pixel must be a number from 0 to 255: current value is 256 at 7/,
    );
    await ask("predict", post("image/png", "not a png"), 400, /must start with the PNG signature/);
    await ask("predict", post("image/png", PNG_BOMB), 400, /at most 16777216 pixels/);
    await ask(
      "predict",
      post("application/octet-stream", new Uint8Array(30_000)),
      415,
      /content type/,
    );
    await ask(
      "predict",
      post("image/png", new Uint8Array(30_000)),
      413,
      /body must be at most 20000 bytes: current value is 30000 bytes/,
    );
    // A streamed body declares no length: it is counted as it arrives.
    const stream = ReadableStream.from([new Uint8Array(15_000), new Uint8Array(15_000)]);
    await ask(
      "predict",
      post("image/png", stream),
      413,
      /at most 20000 bytes: current value is over/,
    );
    const health = await fetch(`${server.url}healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });
});

Deno.test("serve: a request whose body is still arriving at the timeout gets 408, not a hang", async () => {
  const run = await runFolder(handModel(5));
  await withServer({ model: run, timeoutMs: 100 }, async (server) => {
    // A body that never ends.
    const body = new ReadableStream({ pull: () => new Promise(() => {}) });
    const controller = new AbortController();
    const response = await fetch(`${server.url}predict`, {
      method: "POST",
      headers: { "content-type": "image/png" },
      body,
      signal: controller.signal,
    });
    assert.equal(response.status, 408);
    assert.match(
      (await response.json()).error,
      /^Cannot answer POST \/predict as a request must finish within 100 ms: its body was still arriving$/,
    );
    controller.abort();
  });
});

Deno.test("serve: a registry's champion is served and a promotion swaps in under concurrent load without a failure", async () => {
  const first = handModel(6), second = handModel(7);
  const registry = await registryOf([first, second]);
  const all = images(8, 11);
  const before = await predictReference(`${registry}/versions/v0001`, all);
  const after = await predictReference(`${registry}/versions/v0002`, all);
  assert.notDeepEqual(before, after);
  await withServer({ model: registry, pollMs: 10 }, async (server, logs) => {
    assert.equal(server.current().version, "v0001");
    assert.match(logs[0], /following the champion of/);
    let stop = false;
    const seen: { version: string; ok: boolean }[] = [];
    const client = async (c: number) => {
      // Each client asks at least 3 times, and at least once after the swap was seen.
      for (let k = 0, askedAfter = false; !askedAfter || k < 3; k++) {
        askedAfter ||= stop;
        const i = (c + k) % 8;
        const { status, body } = await postJson(server, { pixels: pixelsOf(all, i) });
        assert.equal(status, 200, JSON.stringify(body));
        const expected = body.model.version === "v0001" ? before[i] : after[i];
        // Never a half-loaded model: each answer is whole from the version it names.
        seen.push({
          version: body.model.version,
          ok: body.class === expected.predicted &&
            JSON.stringify(body.probabilities) === JSON.stringify(expected.probabilities),
        });
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    // Promote only once the first champion has answered, however slow the machine.
    for (let i = 0; i < 500 && !seen.some((s) => s.version === "v0001"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await promoteVersion(registry, "v0002", { log: () => {} });
    for (let i = 0; i < 200 && server.current().version !== "v0002"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop = true;
    await Promise.all(clients);
    assert.equal(server.current().version, "v0002");
    assert.ok(seen.every((s) => s.ok), "every answer matches its version's model");
    assert.ok(seen.some((s) => s.version === "v0001") && seen.some((s) => s.version === "v0002"));
    assert.ok(
      logs.some((l) => /swapped in v0002 \(test accuracy 60\.00%\), replacing v0001/.test(l)),
      logs.join("\n"),
    );
    const doc = await (await fetch(`${server.url}model`)).json();
    assert.equal(doc.version, "v0002");
    assert.equal(doc.testAccuracy, 0.6);
  });
});

Deno.test("serve: a rollback swaps back, and a champion that does not load leaves the old one serving", async () => {
  const registry = await registryOf([handModel(6), handModel(7), handModel(8)]);
  await withServer({ model: registry, pollMs: 60_000 }, async (server, logs) => {
    await writeCurrent(registry, "v0002");
    assert.equal(await server.reload(), true);
    assert.equal(server.current().version, "v0002");
    assert.equal(await server.reload(), false);
    // v0003's model file is damaged after install: the server keeps v0002 and says why, once.
    await Deno.writeFile(`${registry}/versions/v0003/${MODEL_FILE}`, new Uint8Array(10));
    await writeCurrent(registry, "v0003");
    assert.equal(await server.reload(), false);
    assert.equal(await server.reload(), false);
    assert.equal(server.current().version, "v0002");
    const refused = logs.filter((l) => l.startsWith("serve: keeps v0002: cannot load"));
    assert.equal(refused.length, 1, logs.join("\n"));
    const { status, body } = await postJson(server, { pixels: new Array(100).fill(0) });
    assert.equal(status, 200);
    assert.equal(body.model.version, "v0002");
    // A damaged current (edited by hand) is reported once too, and v0002 keeps serving.
    await Deno.writeTextFile(`${registry}/current`, "{oops");
    assert.equal(await server.reload(), false);
    assert.equal(await server.reload(), false);
    assert.equal(logs.filter((l) => l.includes("Cannot read the champion")).length, 1);
    await writeCurrent(registry, "v0001");
    assert.equal(await server.reload(), true);
    assert.equal(server.current().version, "v0001");
  });
});

Deno.test("serve: a registry with no champion, or a missing model, does not start", async () => {
  const registry = `${await tempDir()}/models`;
  await Deno.mkdir(`${registry}/versions`, { recursive: true });
  await assert.rejects(() => startServer({ model: registry, port: 0 }), {
    name: "RegistryError",
    message: new RegExp(`^Cannot serve the champion of registry "${registry}" as one must`),
  });
  await assert.rejects(() => startServer({ model: `${registry}/nothing`, port: 0 }), {
    name: "InputError",
    message: /does not exist/,
  });
});
