import assert from "node:assert/strict";
import { syncPath } from "../../engine/files.ts";
import { tempDir } from "../fixtures.ts";

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
