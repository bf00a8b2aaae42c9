import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { LockError } from "../../engine/errors.ts";
import { acquireLock } from "../../registry/lock.ts";
import { registryPaths } from "../../registry/registry.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

/** The pid written into hand-made stale locks; only the flock decides, so any number does. */
const DEAD_PID = 99_999_999;

function recorder() {
  const lines: string[] = [];
  return { lines, reporter: { log: (line: string) => lines.push(line) } };
}

async function registryWithLock(content: unknown): Promise<string> {
  const registry = `${await tempDir()}/models`;
  await Deno.mkdir(registry);
  await Deno.writeTextFile(
    registryPaths(registry).lock,
    typeof content === "string" ? content : JSON.stringify(content),
  );
  return registry;
}

async function readLockFile(registry: string) {
  return JSON.parse(await Deno.readTextFile(registryPaths(registry).lock));
}

Deno.test("a lock whose process is gone is taken over with a message, and released after", async () => {
  const registry = await registryWithLock({
    pid: DEAD_PID,
    startedAt: "2025-01-01T00:00:00.000Z",
    token: "old",
    purpose: "retrain",
  });
  const { lines, reporter } = recorder();
  const lock = await acquireLock(registry, "retrain", reporter);
  assert.deepEqual(lines, [
    `warning: took over the stale lock "${registry}/lock": process ${DEAD_PID}, which took it ` +
    `at 2025-01-01T00:00:00.000Z, is no longer running`,
  ]);
  const held = await readLockFile(registry);
  assert.equal(held.pid, Deno.pid);
  assert.equal(held.token, lock.info.token);
  await lock.release();
  await assert.rejects(Deno.stat(registryPaths(registry).lock), Deno.errors.NotFound);
  // Nothing is left behind but the registry folder itself.
  assert.deepEqual(await Array.fromAsync(Deno.readDir(registry)), []);
});

Deno.test("a lock that is not JSON is taken over", async () => {
  const registry = await registryWithLock("garbage");
  const { lines, reporter } = recorder();
  const lock = await acquireLock(registry, "retrain", reporter);
  assert.match(lines[0], /its holder, which wrote no readable lock, is no longer running$/);
  await lock.release();
});

Deno.test("a live lock refuses a second holder with a clear error; retrain exits 1", async () => {
  const registry = `${await tempDir()}/models`;
  const { reporter } = recorder();
  const first = await acquireLock(registry, "retrain", reporter);
  await assert.rejects(
    acquireLock(registry, "promote v0001", reporter),
    (error: Error) => {
      assert.ok(error instanceof LockError);
      assert.equal(
        error.message,
        `Cannot promote v0001 as one retraining or promotion at a time may change a registry: ` +
          `current value of --registry is "${registry}", locked by process ${Deno.pid} ` +
          `(retrain) since ${first.info.startedAt}. Hint: wait for it to finish; if no ` +
          `retraining, schedule or models command runs, remove "${registry}/lock"`,
      );
      return true;
    },
  );
  const c = captureConsole();
  const code = await main([
    "retrain",
    "--data",
    await makeDataSet(),
    "--registry",
    registry,
    "--cache-dir",
    await tempDir(),
  ], c.io);
  assert.equal(code, 1);
  assert.match(c.err.at(-1)!, /^error: Cannot retrain as one retraining or promotion at a time/);
  // The refused retraining wrote nothing: no history, no version.
  assert.deepEqual((await Array.fromAsync(Deno.readDir(registry))).map((e) => e.name), ["lock"]);
  await first.release();
  const second = await acquireLock(registry, "retrain", reporter);
  await second.release();
});

Deno.test("release() leaves a lock that is no longer its own", async () => {
  const registry = `${await tempDir()}/models`;
  const { reporter } = recorder();
  const lock = await acquireLock(registry, "retrain", reporter);
  const other = { ...lock.info, token: "someone-else" };
  await Deno.writeTextFile(registryPaths(registry).lock, JSON.stringify(other));
  await lock.release();
  assert.equal((await readLockFile(registry)).token, "someone-else");
});
