import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

async function config(path: string) {
  return JSON.parse(await Deno.readTextFile(new URL(path, ROOT)));
}

const TOOL_ONLY = ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "playwright-core"];

/** Packages only the test suite imports (the export checks); the tools never load them. */
const TEST_ONLY = ["onnxruntime-web"];

Deno.test("the root import map holds only what the pipeline and tests use, so a fresh clone installs no tool packages", async () => {
  const root = await config("deno.json");
  for (const name of TOOL_ONLY) assert.equal(root.imports[name], undefined, name);
  assert.ok(!JSON.stringify(root.imports).includes("assemblyscript"));
  const lock = await Deno.readTextFile(new URL("deno.lock", ROOT));
  for (const name of [...TOOL_ONLY, "assemblyscript", "binaryen"]) {
    assert.ok(!lock.includes(`"${name}@`), `deno.lock still pins ${name}`);
  }
});

Deno.test("bench/ and browser/ pin every root package at the root's version", async () => {
  const root = await config("deno.json");
  for (const path of ["bench/deno.json", "browser/deno.json"]) {
    const tool = await config(path);
    for (const [name, specifier] of Object.entries(root.imports)) {
      if (TEST_ONLY.includes(name)) continue;
      assert.equal(tool.imports[name], specifier, `${path}: ${name}`);
    }
  }
});

Deno.test("the bench, browser and wasm build tasks run under their own config and frozen lockfile", async () => {
  const { tasks } = await config("deno.json");
  for (
    const [task, dir] of [["bench", "bench"], ["test:browser", "browser"], ["build:wasm", "build"]]
  ) {
    assert.match(tasks[task].command, new RegExp(`--config ${dir}/deno\\.json --frozen `), task);
    await Deno.stat(new URL(`${dir}/deno.lock`, ROOT));
  }
});

Deno.test("every task has a description", async () => {
  const { tasks } = await config("deno.json");
  for (const [name, task] of Object.entries(tasks)) {
    assert.equal(typeof (task as { description?: string }).description, "string", name);
  }
});
