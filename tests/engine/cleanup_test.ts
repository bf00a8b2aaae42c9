import assert from "node:assert/strict";
import {
  checkInterrupted,
  Interrupted,
  interruptExitCode,
  onCleanup,
  removeSyncQuietly,
  runCleanups,
} from "../../engine/cleanup.ts";
import { writeFileAtomic } from "../../engine/files.ts";
import { writeRunFolder } from "../../engine/run_folder.ts";
import { tempDir } from "../fixtures.ts";

Deno.test("runCleanups() runs what is registered once, newest first, past one that throws", () => {
  const calls: string[] = [];
  onCleanup(() => calls.push("first"));
  const done = onCleanup(() => calls.push("forgotten"));
  onCleanup(() => {
    throw new Error("cannot");
  });
  onCleanup(() => calls.push("last"));
  done();
  done();
  runCleanups();
  runCleanups();
  assert.deepEqual(calls, ["last", "first"]);
  onCleanup(() => calls.push("later"));
  runCleanups();
  assert.deepEqual(calls, ["last", "first", "later"]);
});

Deno.test("Interrupted carries the shell's exit code for its signal", () => {
  assert.equal(new Interrupted("SIGINT").exitCode, 130);
  assert.equal(new Interrupted("SIGTERM").exitCode, 143);
  assert.equal(new Interrupted("SIGTERM").message, "stopped by SIGTERM");
  assert.equal(interruptExitCode("SIGTERM"), 143);
  // No watch runs in this process: nothing is ever noted.
  checkInterrupted();
});

Deno.test("removeSyncQuietly() removes a folder and ignores one that is gone", async () => {
  const dir = await tempDir();
  await Deno.mkdir(`${dir}/a/b`, { recursive: true });
  removeSyncQuietly(`${dir}/a`);
  removeSyncQuietly(`${dir}/a`);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
});

Deno.test("atomic writes register their temps only while they write", async () => {
  const dir = await tempDir();
  const calls: string[] = [];
  onCleanup(() => calls.push("mine"));
  await writeFileAtomic(`${dir}/file`, new TextEncoder().encode("x"));
  await writeRunFolder(`${dir}/run`, { "config.json": new TextEncoder().encode("{}") });
  await writeRunFolder(`${dir}/run`, { "config.json": new TextEncoder().encode("{}") });
  runCleanups();
  assert.deepEqual(calls, ["mine"], "no callback of a finished write was left registered");
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
    "file",
    "run",
  ]);
});
