import assert from "node:assert/strict";
import {
  checkCacheLocation,
  cleanCache,
  formatSize,
  listCache,
  parseSize,
  pruneCache,
  TEMP_SWEEP_AGE_MS,
} from "../../engine/cache_store.ts";
import { writeValueEntry } from "../../engine/cache.ts";
import { InputError, UsageError } from "../../engine/errors.ts";
import { tempDir } from "../fixtures.ts";

const DAY = 86_400;
const key = (c: string) => c.repeat(64);

/** Writes a file of `bytes` bytes last modified on day `day` (seconds since the epoch / DAY). */
async function file(path: string, bytes: number, day: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, new Uint8Array(bytes));
  await Deno.utime(path, day * DAY, day * DAY);
}

/** Every file under `dir`, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      found.push(...(await files(`${dir}/${e.name}`)).map((f) => `${e.name}/${f}`));
    } else found.push(e.name);
  }
  return found.sort();
}

/**
 * A cache with a data entry (two splits of 100 bytes) written on day 1, a value entry of 50
 * on day 3, and a data entry of 2×30 on day 2.
 */
async function threeEntries(): Promise<string> {
  const dir = await tempDir({ prefix: "mnp-store-" });
  await file(`${dir}/decode/${key("a")}.train.bin`, 100, 1);
  await file(`${dir}/decode/${key("a")}.test.bin`, 100, 1);
  await file(`${dir}/train/${key("b")}.bin`, 50, 3);
  await file(`${dir}/normalize/${key("c")}.train.bin`, 30, 2);
  await file(`${dir}/normalize/${key("c")}.test.bin`, 30, 2);
  return dir;
}

Deno.test("listCache() groups a data entry's two splits into one entry, oldest first, with the total", async () => {
  const dir = await threeEntries();
  const { listing, swept } = await listCache(dir);
  assert.deepEqual(swept, []);
  assert.deepEqual(
    listing.entries.map((e) => [e.stage, e.key[0], e.kind, e.bytes, e.files.length, e.complete]),
    [
      ["decode", "a", "data", 200, 2, true],
      ["normalize", "c", "data", 60, 2, true],
      ["train", "b", "value", 50, 1, true],
    ],
  );
  assert.equal(listing.bytes, 310);
  assert.equal(listing.entries[0].written, 1 * DAY * 1000);
});

Deno.test("listCache() of a folder that does not exist is an empty cache", async () => {
  const { listing } = await listCache(`${await tempDir()}/none`);
  assert.deepEqual([listing.exists, listing.entries, listing.bytes], [false, [], 0]);
});

Deno.test("pruneCache() evicts the least recently written entries, each whole, until the total fits", async () => {
  const dir = await threeEntries();
  // 310 bytes: dropping the oldest (200) fits 150; a split alone would have fitted too, but never goes.
  const { removed, listing } = await pruneCache(dir, 150);
  assert.deepEqual(removed.map((e) => e.key[0]), ["a"]);
  assert.equal(listing.bytes, 110);
  assert.deepEqual(await files(dir), [
    `normalize/${key("c")}.test.bin`,
    `normalize/${key("c")}.train.bin`,
    `train/${key("b")}.bin`,
  ]);
  const again = await pruneCache(dir, 60);
  assert.deepEqual(again.removed.map((e) => e.key[0]), ["c"]);
  assert.deepEqual(await files(dir), [`train/${key("b")}.bin`]);
  assert.deepEqual((await pruneCache(dir, 50)).removed, []);
});

Deno.test("pruneCache() evicts a data entry that lost a split first, however new", async () => {
  const dir = await threeEntries();
  await file(`${dir}/deskew/${key("d")}.test.bin`, 10, 9);
  const { removed } = await pruneCache(dir, 305);
  assert.deepEqual(removed.map((e) => [e.key[0], e.complete]), [["d", false], ["a", true]]);
});

Deno.test("pruneCache() to 0 and cleanCache() leave the folder itself, empty", async () => {
  for (const evict of [(d: string) => pruneCache(d, 0), (d: string) => cleanCache(d)]) {
    const dir = await threeEntries();
    const { removed, listing } = await evict(dir);
    assert.equal(removed.length, 3);
    assert.deepEqual([listing.bytes, listing.entries], [0, []]);
    assert.deepEqual(await files(dir), []);
    assert.ok((await Deno.stat(dir)).isDirectory);
  }
});

Deno.test("a sweep removes the temp files unwritten for longer than its age, and keeps younger ones", async () => {
  const dir = await threeEntries();
  const old = `${dir}/decode/.tmp-${key("e")}.train.bin-0123abcd`;
  const young = `${dir}/decode/.tmp-${key("f")}.bin-89abcdef`;
  await file(old, 40, 1);
  await Deno.writeFile(young, new Uint8Array(7));
  const now = Date.now();
  const { swept, listing } = await listCache(dir, { now });
  assert.deepEqual(swept.map((t) => t.path), [old]);
  assert.deepEqual(listing.temps.map((t) => [t.path, t.bytes]), [[young, 7]]);
  assert.equal(listing.bytes, 310, "temp files are not entries");
  // The same temp file, once unwritten for longer than the age, goes too; cleanCache() keeps it
  // until then.
  assert.deepEqual((await cleanCache(dir, { now })).listing.temps.length, 1);
  const later = await listCache(dir, { now: now + TEMP_SWEEP_AGE_MS + 1000 });
  assert.deepEqual(later.swept.map((t) => t.path), [young]);
  assert.deepEqual(await files(dir), []);
});

Deno.test("a cache folder holding anything but entries and temp files is refused, with nothing removed", async () => {
  const cases: [string, (dir: string) => Promise<void>, string][] = [
    [
      "a file beside the stage folders",
      (d) => Deno.writeTextFile(`${d}/notes.txt`, "x"),
      "notes.txt",
    ],
    [
      "a file in a stage folder",
      (d) => Deno.writeTextFile(`${d}/decode/keep.bin`, "x"),
      "keep.bin",
    ],
    ["a folder in a stage folder", (d) => Deno.mkdir(`${d}/train/photos`), "photos"],
    ["a short key", (d) => Deno.writeTextFile(`${d}/train/abc.bin`, "x"), "abc.bin"],
    ["another temp name", (d) => Deno.writeTextFile(`${d}/train/.tmp-notes`, "x"), ".tmp-notes"],
  ];
  for (const [what, add, name] of cases) {
    const dir = await threeEntries();
    await file(`${dir}/decode/.tmp-${key("e")}.train.bin-0123abcd`, 40, 1);
    await add(dir);
    const before = await files(dir);
    for (const run of [() => listCache(dir), () => pruneCache(dir, 0), () => cleanCache(dir)]) {
      await assert.rejects(run, (e: unknown) => {
        assert.ok(e instanceof InputError, what);
        assert.match(e.message, /^Cannot use cache folder ".*" as it must hold only stage folders/);
        assert.ok(e.message.includes(name), `${what}: ${e.message}`);
        assert.ok(e.message.endsWith("nothing was removed"), e.message);
        return true;
      });
    }
    assert.deepEqual(await files(dir), before, what);
  }
});

Deno.test("a cache folder that is a file is refused", async () => {
  const path = `${await tempDir()}/file`;
  await Deno.writeTextFile(path, "x");
  await assert.rejects(() => cleanCache(path), {
    name: "InputError",
    message: `Cannot use cache folder "${path}" as it must be a folder: it is a file. ` +
      `Hint: pick another --cache-dir`,
  });
});

Deno.test("entries the cache itself wrote are listed and cleaned", async () => {
  const dir = await tempDir();
  await writeValueEntry(dir, "train", key("9"), new Uint8Array(5));
  const { listing } = await listCache(dir);
  assert.deepEqual(listing.entries.map((e) => [e.stage, e.kind, e.complete]), [[
    "train",
    "value",
    true,
  ]]);
  assert.equal((await cleanCache(dir)).removed.length, 1);
});

Deno.test("checkCacheLocation() refuses the root, the home folder and the project folder or above", async () => {
  const home = await tempDir();
  const project = `${home}/code/project`;
  await Deno.mkdir(project, { recursive: true });
  const places = { projectRoot: project, home };
  for (
    const [dir, name] of [
      ["/", "the file system's root"],
      [home, "the home folder"],
      [`${home}/..`, "the home folder"],
      [`${home}/code`, "the project folder"],
      [project, "the project folder"],
      [`${project}/src/..`, "the project folder"],
    ]
  ) {
    await assert.rejects(() => checkCacheLocation(dir, places), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.ok(
        e.message.startsWith(`Cannot use --cache-dir as it must not be ${name}`),
        e.message,
      );
      assert.ok(e.message.includes(`current value is "${dir}"`), e.message);
      return true;
    });
  }
  await checkCacheLocation(`${project}/.cache`, places);
  await checkCacheLocation(`${home}/elsewhere`, { projectRoot: project, home: null });
});

Deno.test("parseSize() reads decimal and binary units, and refuses anything else as a usage error", () => {
  const table: [string, number][] = [
    ["500MB", 500e6],
    ["2GB", 2e9],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["0", 0],
    ["123", 123],
    ["10B", 10],
    ["64 KiB", 65536],
    ["2gb", 2e9],
    ["1TB", 1e12],
    [".5MB", 500e3],
  ];
  for (const [text, bytes] of table) assert.equal(parseSize("max-size", text), bytes, text);
  for (const bad of ["", "GB", "-1GB", "2XB", "1e3", "2 gallons", "1.5.5GB", "9999999TB"]) {
    assert.throws(() => parseSize("max-size", bad), (e: unknown) => {
      assert.ok(e instanceof UsageError, bad);
      assert.equal(
        e.message,
        "Cannot use --max-size as it must be a size such as 500MB, 2GB or 1.5GiB (KB, MB, GB, " +
          "TB count in 1000s, KiB, MiB, GiB, TiB in 1024s, B or no unit in bytes): current " +
          `value is "${bad}"`,
      );
      return true;
    });
  }
});

Deno.test("formatSize() writes bytes in powers of 1000", () => {
  assert.deepEqual(
    [0, 999, 1000, 1500, 99_400, 12_345_678, 2e9, 3.2e12].map(formatSize),
    ["0 B", "999 B", "1 KB", "1.5 KB", "99 KB", "12 MB", "2 GB", "3.2 TB"],
  );
});
