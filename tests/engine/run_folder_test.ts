import assert from "node:assert/strict";
import { InputError } from "../../engine/errors.ts";
import {
  checkOutputFolder,
  checkRunFolder,
  MODEL_FILE,
  REPORT_FILE,
  RUN_FILES,
  writeRunFolder,
} from "../../engine/run_folder.ts";
import { tempDir } from "../fixtures.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

async function contents(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await names(dir)) files[name] = await Deno.readTextFile(`${dir}/${name}`);
  return files;
}

function runFiles(tag: string): Record<string, Uint8Array> {
  return {
    "config.json": text(`{"run":"${tag}"}`),
    "metrics.json": text(`{"accuracy":"${tag}"}`),
    [MODEL_FILE]: text(`model ${tag}`),
  };
}

Deno.test("run_folder.RUN_FILES names what a run folder holds: config, metrics, model and report", () => {
  assert.deepEqual(RUN_FILES, ["config.json", "metrics.json", "model.mnpm", "report.html"]);
  assert.equal(MODEL_FILE, "model.mnpm");
  assert.equal(REPORT_FILE, "report.html");
});

Deno.test("run_folder.checkRunFolder accepts a missing folder, an empty one, and an earlier run", async () => {
  const dir = await tempDir();
  await checkRunFolder(`${dir}/new`);
  await checkRunFolder(dir);
  for (const name of RUN_FILES) await Deno.writeTextFile(`${dir}/${name}`, "");
  await checkRunFolder(dir);
  assert.deepEqual(await names(dir), [...RUN_FILES].sort());
});

Deno.test("run_folder.checkRunFolder refuses a folder holding a foreign file, naming it", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
  await assert.rejects(() => checkRunFolder(dir), {
    name: "InputError",
    message: `Cannot write run folder "${dir}" as it must be new or an earlier run folder: ` +
      `it holds "notes.txt". Hint: pick another --out`,
  });
});

Deno.test("run_folder.checkOutputFolder names the first three foreign entries in name order, then …", async () => {
  const dir = await tempDir();
  for (const name of ["e.txt", "b.txt", "d.txt", "a.txt", "c.txt"]) {
    await Deno.writeTextFile(`${dir}/${name}`, "");
  }
  await Deno.mkdir(`${dir}/keep`);
  await assert.rejects(
    () => checkOutputFolder(dir, "archive", (e) => e.isDirectory),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.equal(
        error.message,
        `Cannot write archive "${dir}" as it must be new or an earlier archive: it holds ` +
          `"a.txt", "b.txt", "c.txt", …. Hint: pick another --out`,
      );
      return true;
    },
  );
});

Deno.test("run_folder.checkOutputFolder refuses a path that is a file", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/plain`, "x");
  await assert.rejects(() => checkOutputFolder(`${dir}/plain`, "comparison folder", () => true), {
    name: "InputError",
    message: `Cannot write comparison folder "${dir}/plain" as it must be a folder: it is a file`,
  });
});

Deno.test("run_folder.writeRunFolder creates the folder, and its missing parents, holding exactly the files", async () => {
  const root = await tempDir();
  const dir = `${root}/runs/deep/a`;
  await writeRunFolder(dir, runFiles("a"));
  assert.deepEqual(await contents(dir), {
    "config.json": '{"run":"a"}',
    "metrics.json": '{"accuracy":"a"}',
    "model.mnpm": "model a",
  });
  assert.deepEqual(await names(`${root}/runs/deep`), ["a"]);
});

Deno.test("run_folder.writeRunFolder replaces an earlier run whole: no old file survives, no temp or backup is left", async () => {
  const root = await tempDir();
  const dir = `${root}/run`;
  await writeRunFolder(dir, { ...runFiles("old"), [REPORT_FILE]: text("old report") });
  await writeRunFolder(dir, runFiles("new"));
  assert.deepEqual(await contents(dir), {
    "config.json": '{"run":"new"}',
    "metrics.json": '{"accuracy":"new"}',
    "model.mnpm": "model new",
  });
  assert.deepEqual(await names(root), ["run"]);
});

Deno.test("run_folder.writeRunFolder refuses a folder holding a foreign file and leaves it untouched", async () => {
  const root = await tempDir();
  const dir = `${root}/run`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/notes.txt`, "keep me");
  await assert.rejects(() => writeRunFolder(dir, runFiles("x")), {
    name: "InputError",
    message: `Cannot write run folder "${dir}" as it must be new or an earlier run folder: ` +
      `it holds "notes.txt". Hint: pick another --out`,
  });
  assert.deepEqual(await contents(dir), { "notes.txt": "keep me" });
  assert.deepEqual(await names(root), ["run"]);
});

Deno.test("run_folder.writeRunFolder that fails half-way keeps the earlier run and leaves no temp folder", async () => {
  const root = await tempDir();
  const dir = `${root}/run`;
  await writeRunFolder(dir, runFiles("old"));
  // A file name with a folder in it cannot be written into the flat temp folder.
  await assert.rejects(
    () => writeRunFolder(dir, { ...runFiles("new"), "missing/inner.json": text("{}") }),
    Deno.errors.NotFound,
  );
  assert.deepEqual(await contents(dir), {
    "config.json": '{"run":"old"}',
    "metrics.json": '{"accuracy":"old"}',
    "model.mnpm": "model old",
  });
  assert.deepEqual(await names(root), ["run"]);
});

Deno.test("run_folder.writeRunFolder interrupted while swapping folders puts the earlier run back", async () => {
  const root = await tempDir();
  const dir = `${root}/run`;
  await writeRunFolder(dir, runFiles("old"));
  const real = Deno.rename;
  // The first rename moves the old folder aside; the second, which would move the new one in, fails.
  let calls = 0;
  Deno.rename = (from, to) =>
    ++calls === 2 ? Promise.reject(new Deno.errors.Interrupted("killed")) : real(from, to);
  try {
    await assert.rejects(() => writeRunFolder(dir, runFiles("new")), Deno.errors.Interrupted);
  } finally {
    Deno.rename = real;
  }
  assert.equal(calls, 3, "aside, the failed swap, and back");
  assert.deepEqual(await contents(dir), {
    "config.json": '{"run":"old"}',
    "metrics.json": '{"accuracy":"old"}',
    "model.mnpm": "model old",
  });
  assert.deepEqual(await names(root), ["run"]);
});

Deno.test("run_folder.writeRunFolder into a bare relative name writes beside the working folder's other files", async () => {
  const root = await tempDir();
  const cwd = Deno.cwd();
  Deno.chdir(root);
  try {
    await writeRunFolder("bare", runFiles("b"));
  } finally {
    Deno.chdir(cwd);
  }
  assert.deepEqual(await names(root), ["bare"]);
  assert.deepEqual(await names(`${root}/bare`), ["config.json", "metrics.json", "model.mnpm"]);
});
