import assert from "node:assert/strict";
import { entryPath, readEntry, writeEntry } from "../../engine/cache.ts";
import { CacheError } from "../../engine/errors.ts";
import { hashJson } from "../../engine/hash.ts";
import { tempDir } from "../fixtures.ts";

async function setup() {
  const dir = await tempDir({ prefix: "mnp-cache-" });
  const key = await hashJson(["stage", 1]);
  const payload = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  await writeEntry(dir, "stage", key, payload);
  return { dir, key, payload, path: entryPath(dir, "stage", key) };
}

Deno.test("writeEntry() then readEntry() returns the payload and leaves no temp file", async () => {
  const { dir, key, payload } = await setup();
  assert.deepEqual(await readEntry(dir, "stage", key), payload);
  const names = (await Array.fromAsync(Deno.readDir(`${dir}/stage`))).map((e) => e.name);
  assert.deepEqual(names, [`${key}.bin`]);
});

Deno.test("readEntry() returns null for a missing entry", async () => {
  const { dir } = await setup();
  assert.equal(await readEntry(dir, "stage", await hashJson("other")), null);
});

Deno.test("readEntry() rejects a flipped payload byte by its checksum", async () => {
  const { dir, key, path } = await setup();
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 10] ^= 0xff;
  await Deno.writeFile(path, bytes);
  await assert.rejects(
    () => readEntry(dir, "stage", key),
    (e: unknown) => e instanceof CacheError && e.message.includes("checksum must match"),
  );
});

Deno.test("readEntry() rejects a truncated entry by its length", async () => {
  const { dir, key, path } = await setup();
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1));
  await assert.rejects(
    () => readEntry(dir, "stage", key),
    (e: unknown) =>
      e instanceof CacheError &&
      e.message.includes("payload must be 1000 bytes: current value is 999"),
  );
});

Deno.test("readEntry() rejects an entry stored under another key and a wrong magic", async () => {
  const { dir, key, path } = await setup();
  const other = await hashJson("other");
  await Deno.copyFile(path, entryPath(dir, "stage", other));
  await assert.rejects(
    () => readEntry(dir, "stage", other),
    (e: unknown) => e instanceof CacheError && e.message.includes(`key must be ${other}`),
  );
  const bytes = await Deno.readFile(path);
  bytes[0] = 0;
  await Deno.writeFile(path, bytes);
  await assert.rejects(
    () => readEntry(dir, "stage", key),
    (e: unknown) => e instanceof CacheError && e.message.includes("magic must be MNPCACHE"),
  );
});
