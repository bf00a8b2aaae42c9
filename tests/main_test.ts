import assert from "node:assert/strict";
import { main } from "../main.ts";
import { DENO } from "./child.ts";
import { acquireLock } from "../registry/lock.ts";
import { listVersions, readCurrent, readHistory } from "../registry/registry.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "./fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Training that goes on for minutes on the fixture data, so a signal lands while it runs. */
const ENDLESS_TRAINING = [
  "--no-deskew",
  "--epochs",
  "100000",
  "--hidden",
  "8",
  "--batch-size",
  "16",
];

/** A child `deno run main.ts …`, its stderr read as it comes. */
function spawnMain(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env=MNIST_PIPELINE_PAUSE_AT",
      "main.ts",
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  // A generous limit on waiting, not a timing assertion: a slow machine still passes.
  const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return {
    child,
    /** Reads stderr until it holds `marker`. */
    async waitFor(marker: string): Promise<void> {
      while (!err.includes(marker)) {
        const { value, done } = await reader.read();
        if (done) break;
        err += value;
      }
      assert.ok(err.includes(marker), `no "${marker}" on stderr:\n${err}`);
    },
    /** Waits for the end; the whole stderr and stdout. */
    async finish() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        err += value;
      }
      const status = await child.status;
      clearTimeout(limit);
      return { status, err, out: await out };
    },
  };
}

/** Every `.tmp` file or folder under `dir`, at any depth. */
async function temps(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.name.startsWith(".tmp-") || entry.name.endsWith(".tmp")) found.push(path);
    else if (entry.isDirectory) found.push(...await temps(path));
  }
  return found;
}

interface Registry {
  data: string;
  registry: string;
  common: string[];
}

/** A registry whose v0001 is the champion, and the flags to retrain it on fresh caches. */
async function registryWithChampion(): Promise<Registry> {
  const data = await makeDataSet();
  const registry = `${await tempDir()}/models`;
  const common = ["--data", data, "--registry", registry, ...QUICK_TRAINING];
  const first = captureConsole();
  const code = await main(["retrain", ...common, "--cache-dir", await tempDir()], first.io);
  assert.equal(code, 0, first.err.join("\n"));
  return { data, registry, common };
}

/** Checks that the registry is as the first retraining left it, free, and retrains again. */
async function assertUntouchedAndFree(r: Registry, cache: string): Promise<void> {
  assert.deepEqual(await temps(r.registry), []);
  assert.deepEqual(await temps(cache), []);
  assert.deepEqual((await listVersions(r.registry)).map((v) => v.id), ["v0001"]);
  assert.equal(await readCurrent(r.registry), "v0001");
  assert.deepEqual((await readHistory(r.registry)).map((e) => e.decision), ["promoted"]);
  await (await acquireLock(r.registry, "retrain")).release();
  const next = captureConsole();
  const code = await main(["retrain", ...r.common, "--seed", "3", "--cache-dir", cache], next.io);
  assert.equal(code, 0, next.err.join("\n"));
  assert.equal((await readHistory(r.registry)).at(-1)!.version, "v0002");
}

Deno.test("Ctrl-C while a retraining trains exits 130, removes its temps and frees the lock", async () => {
  const r = await registryWithChampion();
  const cache = await tempDir();
  const run = spawnMain(["retrain", ...r.common, "--seed", "2", "--cache-dir", cache], {
    MNIST_PIPELINE_PAUSE_AT: "train",
  });
  await run.waitFor("paused at train\n");
  run.child.kill("SIGINT");
  const { status, err } = await run.finish();
  assert.deepEqual([status.code, status.signal], [130, null], err);
  assert.ok(err.endsWith("stopped by SIGINT\n"), err);
  await assertUntouchedAndFree(r, cache);
});

Deno.test("SIGTERM with the version folder half written exits 143 and removes it", async () => {
  const r = await registryWithChampion();
  const cache = await tempDir();
  const run = spawnMain(["retrain", ...r.common, "--seed", "2", "--cache-dir", cache], {
    MNIST_PIPELINE_PAUSE_AT: "version-half-written",
  });
  await run.waitFor("paused at version-half-written\n");
  const names = (await Array.fromAsync(Deno.readDir(r.registry))).map((e) => e.name);
  assert.equal(names.filter((n) => n.startsWith(".tmp-")).length, 2, "run and version temps");
  run.child.kill("SIGTERM");
  const { status, err } = await run.finish();
  assert.deepEqual([status.code, status.signal], [143, null], err);
  assert.ok(err.endsWith("stopped by SIGTERM\n"), err);
  await assertUntouchedAndFree(r, cache);
});

Deno.test("SIGTERM while a schedule waits exits 143 and leaves the lock free", async () => {
  const r = await registryWithChampion();
  const run = spawnMain([
    "schedule",
    "--every",
    "1h",
    "--force",
    "--promote-tolerance",
    "1",
    ...r.common,
    "--cache-dir",
    await tempDir(),
  ]);
  // The first firing's last line: the training finished, the decision follows at once.
  await run.waitFor("evaluate ");
  for (let i = 0; i < 200 && (await readHistory(r.registry)).length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  run.child.kill("SIGTERM");
  const { status, err, out } = await run.finish();
  assert.deepEqual([status.code, status.signal], [143, null], err);
  assert.match(out, / v0002 promoted: /);
  assert.ok(err.endsWith("stopped by SIGTERM\n"), err);
  assert.deepEqual(await temps(r.registry), []);
  await (await acquireLock(r.registry, "retrain")).release();
});

Deno.test("Ctrl-C in the middle of a pipeline's training stops it within a minibatch, exit 130", async () => {
  const data = await makeDataSet();
  const dir = await tempDir();
  const run = spawnMain([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    `${dir}/cache`,
    "--out",
    `${dir}/run`,
    ...ENDLESS_TRAINING,
  ]);
  // Training is one synchronous loop: only the watcher thread sees the signal while it runs.
  await run.waitFor("/100000  loss");
  run.child.kill("SIGINT");
  const { status, err } = await run.finish();
  assert.deepEqual([status.code, status.signal], [130, null], err.slice(-500));
  assert.ok(err.endsWith("stopped by SIGINT\n"), err.slice(-500));
  assert.deepEqual(await temps(dir), []);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["cache"]);
});

/** Whether util-linux `script`, which runs a command on a pseudo-terminal, is here. */
const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "Ctrl-C on a terminal while the progress bar draws shows the cursor again, exit 130",
  ignore: !hasScript || Deno.build.os !== "linux",
  async fn() {
    const data = await makeDataSet();
    const dir = await tempDir();
    const command = [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-write",
      "main.ts",
      "pipeline",
      "--data",
      data,
      "--cache-dir",
      `${dir}/cache`,
      "--out",
      `${dir}/run`,
      ...ENDLESS_TRAINING,
    ].map((word) => `'${word}'`).join(" ");
    // script gives the child a terminal; a ^C typed into it is the terminal's SIGINT.
    const child = new Deno.Command("script", {
      args: ["-qefc", command, "/dev/null"],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let screen = "";
    while (!/epoch \d+\/100000 batch/.test(screen)) {
      const { value, done } = await reader.read();
      if (done) break;
      screen += value;
    }
    assert.ok(screen.includes("\x1b[?25l"), "the bar hid the cursor");
    const typed = child.stdin.getWriter();
    await typed.write(new Uint8Array([3]));
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      screen += value;
    }
    await typed.close().catch(() => {});
    const status = await child.status;
    clearTimeout(limit);
    const after = screen.slice(screen.lastIndexOf("\x1b[?25l"));
    assert.equal(status.code, 130, after.slice(-300));
    // Cursor shown, line wrap back on, the bar erased, then the one line saying why.
    const restored = "\x1b[?25h\x1b[?7h\x1b[1G\x1b[0Jstopped by SIGINT";
    assert.ok(after.replace(/\r?\n$/, "").endsWith(restored), JSON.stringify(after.slice(-80)));
    assert.deepEqual(await temps(dir), []);
  },
});
