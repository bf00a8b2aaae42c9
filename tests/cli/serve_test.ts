import assert from "node:assert/strict";
import { DENO } from "../child.ts";
import { main } from "../../main.ts";
import { SERVE_HELP } from "../../cli/serve.ts";
import { MODEL_FILE } from "../../engine/run_folder.ts";
import { encodeModel } from "../../model/format.ts";
import { createNetwork } from "../../model/network.ts";
import { captureConsole, tempDir } from "../fixtures.ts";

/** A run folder holding a 4-pixel, 2-class model. */
async function tinyRun(): Promise<string> {
  const dir = `${await tempDir({ prefix: "mnp-serve-cli-" })}/run`;
  await Deno.mkdir(dir);
  const net = createNetwork({ sizes: [4, 2], activation: "sigmoid", output: "softmax" });
  await Deno.writeFile(
    `${dir}/${MODEL_FILE}`,
    encodeModel({
      spec: net.spec,
      preprocessing: {
        rows: 2,
        cols: 2,
        normalization: { mode: "scale", mean: 0, std: 1 },
        deskew: false,
      },
      params: net.params as Float32Array,
    }),
  );
  return dir;
}

Deno.test("serve --help lists the routes, the limits, the flags and how to serve elsewhere", async () => {
  const c = captureConsole();
  assert.equal(await main(["serve", "--help"], c.io), 0);
  assert.deepEqual(c.out, [SERVE_HELP]);
  for (const text of ["POST /predict", "GET  /model", "GET  /healthz", "413 body too large"]) {
    assert.ok(SERVE_HELP.includes(text), text);
  }
  for (const flag of ["--model", "--host", "--port", "--max-body-bytes", "--timeout-ms"]) {
    assert.ok(SERVE_HELP.includes(`  ${flag} `), flag);
  }
  assert.match(SERVE_HELP, /--allow-net=0\.0\.0\.0:9000 main\.ts serve --host 0\.0\.0\.0/);
});

Deno.test("serve refuses bad flags, positionals and a missing model before listening", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--port", "http"], 2, /^error: Cannot use --port as it must be an integer ≥ 0 and ≤ 65535/],
    [["--port", "70000"], 2, /current value is "70000"/],
    [["--max-batch", "0"], 2, /^error: Cannot use --max-batch as it must be an integer ≥ 1/],
    [["extra"], 2, /^error: serve takes no positional arguments: got "extra"/],
    [["--nope"], 2, /^error: Unknown option '--nope'/],
    [["--model", "/tmp/mnp-no-such-run", "--port", "0"], 1, /^error: Cannot load model/],
  ];
  for (const [args, code, message] of cases) {
    const c = captureConsole();
    assert.equal(await main(["serve", ...args], c.io), code, args.join(" "));
    assert.match(c.err.join("\n"), message);
  }
});

Deno.test("the serve task may listen only on 127.0.0.1:8000 and read only the project", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json"));
  assert.equal(
    tasks.serve.command,
    "deno run --allow-read=. --allow-net=127.0.0.1:8000 main.ts serve",
  );
});

Deno.test("deno run main.ts serve answers on its port and stops cleanly on SIGTERM with 143", async () => {
  const run = await tinyRun();
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-read",
      "--allow-net=127.0.0.1",
      "main.ts",
      "serve",
      "--model",
      run,
      "--port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await lines.read();
    if (done) break;
    text += value;
    url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text)?.[1];
  }
  assert.ok(url, text);
  const health = await fetch(`${url}healthz`);
  assert.deepEqual(await health.json(), { status: "ok", version: "run" });
  const answer = await fetch(`${url}predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pixels: [255, 0, 0, 0] }),
  });
  assert.equal(answer.status, 200);
  assert.equal((await answer.json()).probabilities.length, 2);
  child.kill("SIGTERM");
  const [status] = await Promise.all([
    child.status,
    (async () => {
      for (;;) {
        const { done, value } = await lines.read();
        if (done) break;
        text += value;
      }
    })(),
    child.stdout.cancel(),
  ]);
  assert.equal(status.code, 143);
  assert.match(text, /stopped by SIGTERM/);
});
