import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function run(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

/** The JSON `cache --json` prints. */
interface Listed {
  bytes: number;
  entries: { stage: string; key: string; kind: string; files: string[]; bytes: number }[];
  removed: { stage: string; key: string; files: string[] }[];
  swept: string[];
  writing: string[];
}

async function listed(cache: string, ...args: string[]): Promise<Listed> {
  const result = await run(["cache", ...args, "--cache-dir", cache, "--json"]);
  assert.equal(result.code, 0, result.err.join("\n"));
  return JSON.parse(result.out[0]);
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

/** A cache filled by a real tiny pipeline run (decode, normalize, minibatch, train, evaluate). */
async function realCache(): Promise<{ cache: string; data: string; out: string }> {
  const data = await makeDataSet();
  const cache = await tempDir({ prefix: "mnp-cache-cli-" });
  const out = await tempDir();
  const result = await run([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    `${out}/run`,
    ...QUICK_TRAINING,
  ]);
  assert.equal(result.code, 0, result.err.join("\n"));
  return { cache, data, out };
}

/** Gives each stage's entry files the mtime of day `days[stage]`. */
async function age(listing: Listed, days: Record<string, number>): Promise<void> {
  for (const entry of listing.entries) {
    const time = days[entry.stage] * 86400;
    for (const file of entry.files) await Deno.utime(file, time, time);
  }
}

Deno.test("cache lists a real run's entries by stage, a data entry's two splits as one, and the total", async () => {
  const { cache } = await realCache();
  const json = await listed(cache);
  assert.deepEqual(
    json.entries.map((e) => [e.stage, e.kind, e.files.length]).sort(),
    [
      ["decode", "data", 2],
      ["evaluate", "value", 1],
      ["minibatch", "value", 1],
      ["normalize", "data", 2],
      ["train", "value", 1],
    ],
  );
  let onDisk = 0;
  for (const entry of json.entries) {
    let bytes = 0;
    for (const file of entry.files) bytes += (await Deno.stat(file)).size;
    assert.equal(entry.bytes, bytes);
    onDisk += bytes;
  }
  assert.equal(json.bytes, onDisk);

  const text = await run(["cache", "list", "--cache-dir", cache]);
  assert.equal(text.code, 0);
  const stages = text.out.filter((l) => !l.startsWith(" ")).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(stages, ["decode", "normalize", "minibatch", "train", "evaluate", "total"]);
  assert.match(text.out[0], /^decode +1 entry +\d+(\.\d)? KB$/);
  assert.match(text.out[1], /^ {2}[0-9a-f]{12} {2}data +\d+(\.\d)? KB {2}written \d+ s ago$/);
  assert.match(text.out.at(-1)!, new RegExp(`^total +5 entries +\\d+ KB {2}in ${cache}$`));
});

Deno.test("cache prune evicts the least recently written entries, whole, until the total fits", async () => {
  const { cache, data } = await realCache();
  const before = await listed(cache);
  // Oldest first: normalize (a data entry), then train, then decode; minibatch and evaluate newest.
  await age(before, { normalize: 1, train: 2, decode: 3, minibatch: 4, evaluate: 5 });
  const size = (stage: string) => before.entries.find((e) => e.stage === stage)!.bytes;
  // One byte short of keeping normalize: it goes whole, both splits, and nothing else does.
  const max = before.bytes - size("normalize");
  const pruned = await run(["cache", "prune", "--max-size", `${max}B`, "--cache-dir", cache]);
  assert.equal(pruned.code, 0, pruned.err.join("\n"));
  assert.match(pruned.out[0], /^removed 1 entry \(\d+ KB\)$/);
  const after = await listed(cache);
  assert.deepEqual(after.entries.map((e) => e.stage).sort(), [
    "decode",
    "evaluate",
    "minibatch",
    "train",
  ]);
  assert.equal(after.bytes, max);
  assert.ok(!(await files(cache)).some((f) => f.startsWith("normalize/")));

  // A little less than that takes the next oldest, train, and keeps every data split paired.
  const next = await listed(cache, "prune", "--max-size", String(max - 1));
  assert.deepEqual(next.removed.map((e) => e.stage), ["train"]);
  const left = await files(cache);
  for (const split of left.filter((f) => f.endsWith(".train.bin"))) {
    assert.ok(left.includes(split.replace(".train.bin", ".test.bin")), split);
  }

  // The pipeline reads what is left and recomputes what went.
  const plan = await run([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    cache,
    "--dry-run",
    ...QUICK_TRAINING,
  ]);
  assert.deepEqual(
    plan.out.slice(0, -1).map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
    ["decode cached", "normalize would", "minibatch cached", "train would", "evaluate cached"],
  );
});

Deno.test("cache clean empties the folder, keeps it, and a rerun fills it again", async () => {
  const { cache, data, out } = await realCache();
  const clean = await run(["cache", "clean", "--cache-dir", cache]);
  assert.equal(clean.code, 0, clean.err.join("\n"));
  assert.match(clean.out[0], /^removed 5 entries \(\d+ KB\)$/);
  assert.equal(clean.out.at(-1), `total      0 entries         0 B  in ${cache}`);
  assert.deepEqual(await files(cache), []);
  const again = await run([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    `${out}/again`,
    ...QUICK_TRAINING,
  ]);
  assert.equal(again.code, 0);
  assert.equal((await listed(cache)).entries.length, 5);
});

Deno.test("every cache command first sweeps the temp files a crash left, and keeps those being written", async () => {
  for (const sub of [["list"], ["prune", "--max-size", "1GB"], ["clean"]]) {
    const { cache } = await realCache();
    const { entries } = await listed(cache);
    const decode = entries.find((e) => e.stage === "decode")!;
    const crashed = `${cache}/decode/.tmp-${decode.key}.train.bin-0badc0de`;
    const writing = `${cache}/train/.tmp-${"f".repeat(64)}.bin-0000beef`;
    await Deno.writeFile(crashed, new Uint8Array(1000));
    await Deno.utime(crashed, 0, Date.now() / 1000 - 11 * 60);
    await Deno.writeFile(writing, new Uint8Array(10));
    const result = await run(["cache", ...sub, "--cache-dir", cache]);
    assert.equal(result.code, 0, result.err.join("\n"));
    assert.deepEqual(result.err, ["swept 1 temp file a crash left (1 KB)"]);
    assert.equal(result.out.at(-1), "being written: 1 temp file (10 B)");
    assert.ok(!(await files(cache)).some((f) => f.includes("0badc0de")));
    assert.ok((await Deno.stat(writing)).isFile, sub[0]);
  }
});

Deno.test("cache refuses a folder holding other files, removing nothing, exit 1", async () => {
  const dir = await tempDir();
  await Deno.mkdir(`${dir}/photos`);
  await Deno.writeTextFile(`${dir}/photos/cat.jpg`, "meow");
  await Deno.writeTextFile(`${dir}/notes.txt`, "keep me");
  for (const sub of [["list"], ["prune", "--max-size", "0"], ["clean"]]) {
    const result = await run(["cache", ...sub, "--cache-dir", dir]);
    assert.equal(result.code, 1, sub[0]);
    assert.deepEqual(result.err, [
      `error: Cannot use cache folder "${dir}" as it must hold only stage folders of cache ` +
      `entries (<key>.bin, <key>.train.bin, <key>.test.bin) and their temp files: it holds ` +
      `"${dir}/notes.txt", "${dir}/photos/cat.jpg". Hint: check --cache-dir; nothing was removed`,
    ]);
  }
  assert.deepEqual(await files(dir), ["notes.txt", "photos/cat.jpg"]);
});

Deno.test("cache refuses an empty or root --cache-dir and the project folder, exit 2", async () => {
  const table: [string, string][] = [
    ["", "must be a non-empty path other than the file system's root"],
    ["/", "must be a non-empty path other than the file system's root"],
    [ROOT, "must not be the project folder or a folder above it"],
    [`${ROOT}/..`, "must not be the project folder or a folder above it"],
  ];
  for (const [dir, rule] of table) {
    const result = await run(["cache", "clean", "--cache-dir", dir]);
    assert.equal(result.code, 2, dir);
    assert.equal(result.err.length, 1);
    assert.ok(
      result.err[0].startsWith(
        `error: Cannot use --cache-dir as it ${rule}: current value is "${dir}"`,
      ),
      result.err[0],
    );
  }
  assert.ok((await Deno.stat(`${ROOT}/main.ts`)).isFile);
});

Deno.test("cache takes sizes such as 500MB, 2GB, 1.5GiB and refuses others with exit 2", async () => {
  const cache = await tempDir();
  for (const size of ["500MB", "2GB", "1.5GiB", "0", "64 KiB"]) {
    const result = await run(["cache", "prune", "--max-size", size, "--cache-dir", cache]);
    assert.equal(result.code, 0, `${size}: ${result.err.join("\n")}`);
  }
  const usage: [string[], string][] = [
    [["prune", "--max-size", "2XB"], "Cannot use --max-size as it must be a size such as 500MB"],
    [["prune", "--max-size=-1GB"], 'current value is "-1GB"'],
    [["prune"], "Cannot prune the cache as --max-size must be given: it is missing"],
    [["list", "--max-size", "2GB"], "Cannot use --max-size with cache list as only prune takes it"],
    [
      ["tidy"],
      'Cannot run cache as its subcommand must be one of list, prune, clean: current value is "tidy"',
    ],
    [
      ["list", "extra"],
      'Cannot run cache list as it takes no further arguments: current value is "extra"',
    ],
    [["--max-age", "1d"], "Unknown option '--max-age'"],
  ];
  for (const [args, message] of usage) {
    const result = await run(["cache", ...args, "--cache-dir", cache]);
    assert.equal(result.code, 2, args.join(" "));
    assert.ok(
      result.err[0].startsWith("error: ") && result.err[0].includes(message),
      result.err[0],
    );
  }
});

Deno.test("cache --help documents the commands, sizes, the sweep and the exit codes", async () => {
  const help = await run(["cache", "--help"]);
  assert.equal(help.code, 0);
  for (const text of ["prune", "--max-size SIZE", "1.5GiB", "mtime", "10 minutes", "Exit codes"]) {
    assert.ok(help.out[0].includes(text), text);
  }
});
