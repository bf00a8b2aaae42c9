import assert from "node:assert/strict";
import {
  entryPath,
  EntryWriter,
  hasEntry,
  openEntry,
  readValueEntry,
  writeValueEntry,
} from "../../engine/cache.ts";
import { CacheError } from "../../engine/errors.ts";
import { hashJson } from "../../engine/hash.ts";
import { tempDir } from "../fixtures.ts";

const frames = [
  Uint8Array.from({ length: 1000 }, (_, i) => i % 251),
  Uint8Array.of(7),
  Uint8Array.from({ length: 24 }, (_, i) => 255 - i),
];

async function setup() {
  const dir = await tempDir({ prefix: "mnp-cache-" });
  const key = await hashJson(["stage", 1]);
  const writer = await EntryWriter.create(dir, "stage", key, { rows: 2 }, "train");
  for (const frame of frames) await writer.append(frame);
  await writer.commit();
  return { dir, key, path: entryPath(dir, "stage", key, "train") };
}

async function readAll(dir: string, key: string): Promise<Uint8Array[]> {
  const reader = await openEntry(dir, "stage", key, "train");
  assert.ok(reader);
  return await Array.fromAsync(reader.frames());
}

function rejectsWith(promise: Promise<unknown>, text: string) {
  return assert.rejects(
    () => promise,
    (e: unknown) => e instanceof CacheError && e.message.includes(text),
  );
}

Deno.test("an entry written frame by frame reads back the same frames and meta, and leaves no temp file", async () => {
  const { dir, key } = await setup();
  const reader = await openEntry(dir, "stage", key, "train");
  assert.deepEqual(reader?.meta, { rows: 2 });
  assert.deepEqual(await readAll(dir, key), frames);
  const names = (await Array.fromAsync(Deno.readDir(`${dir}/stage`))).map((e) => e.name);
  assert.deepEqual(names, [`${key}.train.bin`]);
  assert.equal(await hasEntry(dir, "stage", key, ["train"]), true);
  assert.equal(await hasEntry(dir, "stage", key, ["train", "test"]), false);
});

Deno.test("an aborted entry leaves nothing behind, and openEntry() returns null for it", async () => {
  const dir = await tempDir();
  const key = await hashJson("k");
  const writer = await EntryWriter.create(dir, "stage", key, null);
  await writer.append(Uint8Array.of(1, 2, 3));
  await writer.abort();
  assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/stage`)), []);
  assert.equal(await openEntry(dir, "stage", key), null);
});

Deno.test("a byte flipped in a middle frame is detected at that frame, before it is passed on", async () => {
  const { dir, key, path } = await setup();
  const bytes = await Deno.readFile(path);
  // The header is 48 bytes plus the meta padded to 8; the first frame's payload follows its 48-byte header.
  const meta = new TextEncoder().encode(JSON.stringify({ rows: 2 })).length;
  const secondFrame = 48 + ((meta + 7) & ~7) + 48 + 1000 + 48;
  bytes[secondFrame] ^= 0xff;
  await Deno.writeFile(path, bytes);
  const reader = await openEntry(dir, "stage", key, "train");
  const seen: Uint8Array[] = [];
  await rejectsWith(
    (async () => {
      for await (const frame of reader!.frames()) seen.push(frame);
    })(),
    "frame 2 must match its checksum",
  );
  assert.deepEqual(seen, [frames[0]]);
});

Deno.test("a truncated entry is refused, never read as a short one", async () => {
  const { dir, key, path } = await setup();
  const bytes = await Deno.readFile(path);
  for (const cut of [1, 56, 100]) {
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - cut));
    await rejectsWith(readAll(dir, key), "cut short");
  }
});

Deno.test("a frame dropped from the middle is detected at the next frame by its number", async () => {
  const { dir, key, path } = await setup();
  const bytes = await Deno.readFile(path);
  const meta = new TextEncoder().encode(JSON.stringify({ rows: 2 })).length;
  const second = 48 + ((meta + 7) & ~7) + 48 + 1000;
  const third = second + 48 + 8;
  await Deno.writeFile(
    path,
    new Uint8Array([...bytes.subarray(0, second), ...bytes.subarray(third)]),
  );
  await rejectsWith(readAll(dir, key), "frame 2 must be numbered 1: it is numbered 2");
});

Deno.test("openEntry() refuses an entry stored under another key, a wrong magic and another version", async () => {
  const { dir, key, path } = await setup();
  const other = await hashJson("other");
  await Deno.copyFile(path, entryPath(dir, "stage", other, "train"));
  await rejectsWith(openEntry(dir, "stage", other, "train"), `key must be ${other}`);
  const bytes = await Deno.readFile(path);
  bytes[8] = 1;
  await Deno.writeFile(path, bytes);
  await rejectsWith(
    openEntry(dir, "stage", key, "train"),
    "format version must be 2: current value is 1",
  );
  bytes[0] = 0;
  await Deno.writeFile(path, bytes);
  await rejectsWith(openEntry(dir, "stage", key, "train"), "magic must be MNPCACHE");
});

Deno.test("writeValueEntry() then readValueEntry() round-trips one payload; a missing entry is null", async () => {
  const dir = await tempDir();
  const key = await hashJson("value");
  await writeValueEntry(dir, "v", key, Uint8Array.of(4, 5, 6));
  assert.deepEqual(await readValueEntry(dir, "v", key), Uint8Array.of(4, 5, 6));
  assert.equal(await readValueEntry(dir, "v", await hashJson("none")), null);
});
