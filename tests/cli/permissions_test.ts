import assert from "node:assert/strict";
import { COMMANDS } from "../../main.ts";
import { NATIVE_KERNELS_FLAG, TASK_PERMISSIONS, taskCommandLine } from "../../cli/permissions.ts";
import { DENO } from "../child.ts";
import { makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
/** Each task's command line (deno.json writes a task as `{ description, command }`). */
const TASKS: Record<string, string> = Object.fromEntries(
  Object.entries(
    JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks as Record<
      string,
      string | { command: string }
    >,
  ).map(([name, task]) => [name, typeof task === "string" ? task : task.command]),
);

/** The `deno run` flags of a command's task, as deno.json spells them. */
function taskFlags(command: string): string[] {
  const words = TASKS[command].split(" ");
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], TASKS[command]);
  return words.slice(2, words.indexOf("main.ts"));
}

/** Runs `deno run FLAGS SCRIPT ARGS` from the project folder; its exit code and output. */
async function child(flags: string[], script: string, args: string[] = []) {
  const output = await new Deno.Command(DENO, {
    args: ["run", ...flags, script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: text(output.stdout), err: text(output.stderr) };
}

Deno.test("deno.json runs every command with its permissions from cli/permissions.ts, none unscoped", () => {
  assert.deepEqual(Object.keys(TASK_PERMISSIONS).sort(), Object.keys(COMMANDS).sort());
  for (const command of Object.keys(COMMANDS)) {
    assert.equal(TASKS[command], taskCommandLine(command), command);
  }
  for (const [name, line] of Object.entries(TASKS)) {
    if (name === "test:browser") continue;
    assert.doesNotMatch(line, /(^| )(-A|--allow-all)( |$)/, name);
    assert.doesNotMatch(line, /--allow-(read|write|run|net|ffi|sys|import)( |$)/, name);
  }
  assert.match(TASKS.test, /--allow-run=deno,script( |$)/);
});

Deno.test("the pipeline task's permissions run a whole pipeline inside the project's folders", async () => {
  const made = await Deno.stat(`${ROOT}runs`).then(() => false, () => true);
  const base = `runs/.permissions-test-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(`${ROOT}${base}`, { recursive: true });
    await Deno.rename(await makeDataSet(), `${ROOT}${base}/data`).catch(async () => {
      // Another file system: copy the four files instead.
      const source = await makeDataSet();
      await Deno.mkdir(`${ROOT}${base}/data`);
      for await (const e of Deno.readDir(source)) {
        await Deno.copyFile(`${source}/${e.name}`, `${ROOT}${base}/data/${e.name}`);
      }
    });
    const run = await child(taskFlags("pipeline"), "main.ts", [
      "pipeline",
      "--data",
      `${base}/data`,
      "--cache-dir",
      `${base}/cache`,
      "--out",
      `${base}/run`,
      ...QUICK_TRAINING,
    ]);
    assert.equal(run.code, 0, run.err);
    assert.ok(run.out.includes(`run folder     ${base}/run`), run.out);

    // The cache task may only touch .cache: it names the permissions to add, and the line it
    // offers works.
    const refused = await child(taskFlags("cache"), "main.ts", [
      "cache",
      "--cache-dir",
      `${base}/cache`,
    ]);
    assert.equal(refused.code, 1);
    const line = refused.err.trim().split("\n");
    assert.equal(line.length, 1, refused.err);
    assert.ok(
      line[0].startsWith(
        `error: Cannot read "${base}/cache" (--cache-dir), nor write "${base}/cache" ` +
          `(--cache-dir) as the process must be allowed to: deno task cache grants only ` +
          `--allow-read=.cache --allow-write=.cache --allow-sys=homedir. Hint: `,
      ),
      line[0],
    );
    const suggested = line[0].slice(line[0].indexOf("deno run ")).split(" ");
    assert.deepEqual(suggested.slice(0, 5), [
      "deno",
      "run",
      `--allow-read=.cache,${base}/cache`,
      `--allow-write=.cache,${base}/cache`,
      "--allow-sys=homedir",
    ]);
    const flags = suggested.slice(2, suggested.indexOf("main.ts"));
    const listed = await child(flags, "main.ts", suggested.slice(suggested.indexOf("main.ts") + 1));
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /^total +5 entries/m);
  } finally {
    await Deno.remove(`${ROOT}${base}`, { recursive: true }).catch(() => {});
    if (made) await Deno.remove(`${ROOT}runs`).catch(() => {});
  }
});

Deno.test("the pipeline task may not write outside its folders: --out elsewhere is one error line, before training", async () => {
  const data = await makeDataSet();
  const elsewhere = `${await tempDir()}/elsewhere`;
  const parent = elsewhere.slice(0, elsewhere.lastIndexOf("/"));
  const run = await child(taskFlags("pipeline"), "main.ts", [
    "pipeline",
    "--data",
    data,
    "--out",
    elsewhere,
    ...QUICK_TRAINING,
  ]);
  assert.equal(run.code, 1);
  assert.equal(
    run.err,
    `error: Cannot read "${data}" (--data) and "${elsewhere}" (--out), nor write "${parent}" ` +
      `(the folder of --out) as the process must be allowed to: deno task pipeline grants only ` +
      `--allow-read=. --allow-write=.cache,runs ${NATIVE_KERNELS_FLAG}. Hint: add them to the ` +
      `task's flags in deno.json, or run deno run --allow-read=.,${data},${elsewhere} ` +
      `--allow-write=.cache,runs,${parent} ${NATIVE_KERNELS_FLAG} main.ts pipeline --data ${data} --out ${elsewhere} ${
        QUICK_TRAINING.join(" ")
      }\n`,
  );
  assert.deepEqual(await Array.fromAsync(Deno.readDir(parent)), []);
});

Deno.test("the pipeline task's permissions refuse writes elsewhere, the network, the environment and subprocesses", async () => {
  const probe = `${await tempDir()}/probe.ts`;
  const target = `${await tempDir()}/x`;
  await Deno.writeTextFile(
    probe,
    `for (const [what, act] of [
      ["write", () => Deno.writeTextFile(${JSON.stringify(target)}, "x")],
      ["net", () => fetch("http://127.0.0.1:8000/")],
      ["connect", () => Deno.connect({ hostname: "127.0.0.1", port: 8000 })],
      ["env", async () => Deno.env.get("HOME")],
      ["run", () => new Deno.Command("true").output()],
    ]) {
      try {
        await act();
        console.log(what, "allowed");
      } catch (error) {
        console.log(what, error.name);
      }
    }`,
  );
  const run = await child(taskFlags("pipeline"), probe);
  assert.equal(run.code, 0, run.err);
  assert.deepEqual(run.out.trim().split("\n"), [
    "write NotCapable",
    "net NotCapable",
    "connect NotCapable",
    "env NotCapable",
    "run NotCapable",
  ]);
  await assert.rejects(() => Deno.stat(target), Deno.errors.NotFound);
});

Deno.test("a permission missing half way (not a path flag) is one error line with the flag to add", async () => {
  const data = await makeDataSet();
  const dir = await tempDir();
  // Everything the flags name is allowed, but not the project, so the kernels cannot load.
  const run = await child([`--allow-read=${data},${dir}`, `--allow-write=${dir}`], "main.ts", [
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    `${dir}/cache`,
    "--out",
    `${dir}/run`,
    ...QUICK_TRAINING,
  ]);
  assert.equal(run.code, 1);
  const errors = run.err.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, run.err);
  assert.ok(
    errors[0].startsWith(
      `error: Cannot read "${ROOT}kernels/gemm.wasm" as the process must be allowed to: deno task ` +
        `pipeline grants only --allow-read=. --allow-write=.cache,runs ${NATIVE_KERNELS_FLAG}. ` +
        "Hint: ",
    ),
    errors[0],
  );
  assert.ok(!run.err.includes("    at "), "no stack trace");
});
