import assert from "node:assert/strict";
import { statOrNull, syncPath, TEMP_PREFIX, writeFileAtomic } from "../../engine/files.ts";
import { tempDir } from "../fixtures.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("files.statOrNull returns null for nothing there, and the file's info otherwise", async () => {
  const dir = await tempDir();
  assert.equal(await statOrNull(`${dir}/missing`), null);
  await Deno.writeTextFile(`${dir}/a.txt`, "12345");
  const info = await statOrNull(`${dir}/a.txt`);
  assert.equal(info?.isFile, true);
  assert.equal(info?.size, 5);
  assert.equal((await statOrNull(dir))?.isDirectory, true);
});

Deno.test("files.statOrNull passes on errors other than absence", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/file`, "");
  await assert.rejects(() => statOrNull(`${dir}/file/inside`), Deno.errors.NotADirectory);
});

Deno.test("files.writeFileAtomic writes a new file whole and leaves no temp file", async () => {
  const dir = await tempDir();
  await writeFileAtomic(`${dir}/out.bin`, Uint8Array.of(1, 2, 3));
  assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), Uint8Array.of(1, 2, 3));
  assert.deepEqual(await names(dir), ["out.bin"]);
});

Deno.test("files.writeFileAtomic joins the parts in order, with or without syncing", async () => {
  const dir = await tempDir();
  for (const sync of [true, false]) {
    const path = `${dir}/parts-${sync}.txt`;
    await writeFileAtomic(path, [text("head "), new Uint8Array(0), text("body "), text("tail")], {
      sync,
    });
    assert.equal(await Deno.readTextFile(path), "head body tail");
  }
  assert.deepEqual(await names(dir), ["parts-false.txt", "parts-true.txt"]);
});

Deno.test("files.writeFileAtomic replaces an existing file, longer or shorter, with exactly the new bytes", async () => {
  const dir = await tempDir();
  const path = `${dir}/current`;
  await Deno.writeTextFile(path, "an old and much longer content");
  await writeFileAtomic(path, text("new"));
  assert.equal(await Deno.readTextFile(path), "new");
  await writeFileAtomic(path, text("newer and longer"));
  assert.equal(await Deno.readTextFile(path), "newer and longer");
  assert.deepEqual(await names(dir), ["current"]);
});

Deno.test("files.writeFileAtomic lets a concurrent reader see the old file or the new, never a mix", async () => {
  const dir = await tempDir();
  const path = `${dir}/big.bin`;
  const size = 1 << 18;
  const versions = [new Uint8Array(size).fill(1), new Uint8Array(size).fill(2)];
  await Deno.writeFile(path, versions[0]);
  let writing = true;
  const writer = (async () => {
    for (let i = 1; i <= 12; i++) await writeFileAtomic(path, versions[i % 2], { sync: false });
    writing = false;
  })();
  let reads = 0;
  while (writing) {
    const bytes = await Deno.readFile(path);
    reads++;
    assert.equal(bytes.length, size, "a reader saw a partly written file");
    assert.ok(bytes[0] === 1 || bytes[0] === 2);
    assert.equal(bytes.indexOf(3 - bytes[0]), -1, "a reader saw a mix of two versions");
  }
  await writer;
  assert.ok(reads > 0);
  assert.deepEqual(await Deno.readFile(path), versions[0]);
  assert.deepEqual(await names(dir), ["big.bin"]);
});

Deno.test("files.writeFileAtomic that cannot rename into place removes its temp file and leaves the target alone", async () => {
  const dir = await tempDir();
  // A folder with something in it cannot be replaced by a file.
  await Deno.mkdir(`${dir}/taken`);
  await Deno.writeTextFile(`${dir}/taken/keep.txt`, "keep");
  await assert.rejects(
    () => writeFileAtomic(`${dir}/taken`, text("file")),
    Deno.errors.IsADirectory,
  );
  assert.deepEqual(await names(dir), ["taken"]);
  assert.equal(await Deno.readTextFile(`${dir}/taken/keep.txt`), "keep");
});

Deno.test("files.writeFileAtomic into a missing folder fails with NotFound and creates nothing", async () => {
  const dir = await tempDir();
  await assert.rejects(
    () => writeFileAtomic(`${dir}/no/such/file`, text("x")),
    Deno.errors.NotFound,
  );
  assert.deepEqual(await names(dir), []);
});

Deno.test("files.writeFileAtomic writes a bare file name into the working folder", async () => {
  const dir = await tempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    await writeFileAtomic("bare.txt", text("here"));
    await writeFileAtomic("./dotted.txt", text("there"));
  } finally {
    Deno.chdir(cwd);
  }
  assert.deepEqual(await names(dir), ["bare.txt", "dotted.txt"]);
  assert.equal(await Deno.readTextFile(`${dir}/bare.txt`), "here");
});

/** Runs `body` with `Deno.rename` replaced by `rename`, which gets the real one to call. */
async function withRename(
  rename: (real: typeof Deno.rename, from: string | URL, to: string | URL) => Promise<void>,
  body: () => Promise<void>,
): Promise<void> {
  const real = Deno.rename;
  Deno.rename = (from, to) => rename(real, from, to);
  try {
    await body();
  } finally {
    Deno.rename = real;
  }
}

Deno.test("files.writeFileAtomic writes a temp file named with TEMP_PREFIX beside the target, then renames it", async () => {
  const dir = await tempDir();
  const renames: [string, string][] = [];
  await withRename(async (real, from, to) => {
    renames.push([String(from), String(to)]);
    // At the moment of the rename the temp file is complete.
    assert.equal(await Deno.readTextFile(from), "whole");
    await real(from, to);
  }, () => writeFileAtomic(`${dir}/target.json`, text("whole")));
  assert.equal(renames.length, 1);
  const [from, to] = renames[0];
  assert.equal(to, `${dir}/target.json`);
  assert.match(from, new RegExp(`^${dir}/\\${TEMP_PREFIX}target\\.json-[0-9a-f]{8}$`));
});

Deno.test("files.writeFileAtomic interrupted before its rename leaves the old file whole and no temp file", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/current`, "old");
  await withRename(
    () => Promise.reject(new Deno.errors.Interrupted("killed")),
    () =>
      assert.rejects(
        () => writeFileAtomic(`${dir}/current`, text("new")),
        Deno.errors.Interrupted,
      ),
  );
  assert.equal(await Deno.readTextFile(`${dir}/current`), "old");
  assert.deepEqual(await names(dir), ["current"]);
});

Deno.test("syncPath() flushes a file and a folder", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/a`, "a");
  await syncPath(`${dir}/a`);
  await syncPath(dir);
});

Deno.test("syncPath() throws when a file cannot be flushed, or is missing", async () => {
  // fsync of a character device fails with EINVAL, as a failing disk would fail a file's.
  await assert.rejects(syncPath("/dev/null"), (error: Error & { code?: string }) => {
    assert.equal(error.code, "EINVAL");
    return true;
  });
  const dir = await tempDir();
  await assert.rejects(syncPath(`${dir}/missing`), Deno.errors.NotFound);
});
