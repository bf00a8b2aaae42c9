import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { DENO } from "../child.ts";
import { LockError } from "../../engine/errors.ts";
import { acquireLock } from "../../registry/lock.ts";
import { registryPaths } from "../../registry/registry.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

const HOLDER = new URL("./lock_holder.ts", import.meta.url).pathname;

/** Starts lock_holder.ts in a child process. */
function holder(args: string[]): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: ["run", "--allow-read", "--allow-write", HOLDER, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Leaves the lock file of a process that took the lock and was killed with SIGKILL. */
async function lockOfKilledProcess(registry: string): Promise<number> {
  const child = holder([registry, "hold"]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("held\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  await child.stderr.cancel();
  assert.equal((await child.status).signal, "SIGKILL");
  assert.ok(seen.includes("held\n"), seen);
  return child.pid;
}

async function readLockFile(registry: string): Promise<string> {
  return await Deno.readTextFile(registryPaths(registry).lock);
}

Deno.test("a lock file left by a killed process is simply taken, and stays in place when released", async () => {
  const registry = `${await tempDir()}/models`;
  const dead = await lockOfKilledProcess(registry);
  assert.equal(JSON.parse(await readLockFile(registry)).pid, dead, "the dead holder's details");
  const lock = await acquireLock(registry, "retrain");
  const held = JSON.parse(await readLockFile(registry));
  assert.deepEqual(held, lock.info);
  assert.equal(held.pid, Deno.pid);
  assert.equal(held.purpose, "retrain");
  assert.equal(typeof held.command, "string");
  await lock.release();
  await lock.release();
  assert.equal(await readLockFile(registry), "", "emptied, never removed");
  assert.deepEqual((await Array.fromAsync(Deno.readDir(registry))).map((e) => e.name), ["lock"]);
  await (await acquireLock(registry, "retrain")).release();
});

Deno.test("a live lock refuses a second holder at once, naming it; retrain exits 1", async () => {
  const registry = `${await tempDir()}/models`;
  const first = await acquireLock(registry, "retrain");
  const { pid, startedAt, command } = first.info;
  await assert.rejects(
    acquireLock(registry, "promote v0001"),
    new LockError(
      `Cannot promote v0001 as one retraining or promotion at a time may change a registry: ` +
        `current value of --registry is "${registry}", locked by process ${pid} ` +
        `(retrain: ${command}) since ${startedAt}. Hint: wait for it to finish; the lock ` +
        `frees itself when that process ends, even if it is killed, so never remove ` +
        `"${registry}/lock"`,
    ),
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
  const second = await acquireLock(registry, "retrain");
  await second.release();
});

Deno.test("a holder that has not written its details yet is named as such", async () => {
  const registry = `${await tempDir()}/models`;
  const first = await acquireLock(registry, "retrain");
  await Deno.writeTextFile(registryPaths(registry).lock, "");
  await assert.rejects(
    acquireLock(registry, "retrain"),
    /locked by another process, which has not written its details yet\./,
  );
  await first.release();
});

Deno.test("five processes racing for a lock left by a killed process hold it one at a time", async () => {
  const registry = `${await tempDir()}/models`;
  await lockOfKilledProcess(registry);
  const logDir = await tempDir();
  const log = `${logDir}/log`;
  const racers = Array.from({ length: 5 }, () => holder([registry, "race", log]));
  // All five wait at the starting line, so they try at the same moment. (The folder is read by
  // its own name: `${log}/..` cannot be resolved before the log file exists.)
  const ready = async () =>
    (await Array.fromAsync(Deno.readDir(logDir))).filter((e) => e.name.startsWith("log.ready-"))
      .length;
  const limit = Date.now() + 120_000;
  while ((await ready()) < 5 && Date.now() < limit) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Deno.writeTextFile(`${log}.go`, "");
  const outputs = await Promise.all(racers.map((child) => child.output()));
  const decoder = new TextDecoder();
  for (const output of outputs) assert.equal(output.code, 0, decoder.decode(output.stderr));
  const reports = outputs.map((o) => JSON.parse(decoder.decode(o.stdout)));

  const lines = (await Deno.readTextFile(log)).trimEnd().split("\n");
  assert.equal(lines.length, 10, lines.join("\n"));
  for (let i = 0; i < lines.length; i += 2) {
    const pid = lines[i].replace(/^start /, "");
    assert.equal(lines[i + 1], `end ${pid}`, `held by two at once:\n${lines.join("\n")}`);
  }
  assert.deepEqual(
    new Set(lines.map((l) => Number(l.split(" ")[1]))),
    new Set(racers.map((c) => c.pid)),
  );
  // They raced, so some lost a round, and each that did was refused at once with the message.
  // (How many lost is the scheduler's call: on a loaded machine a racer may wake only after
  // the others are done, having never met a held lock, as the full suite showed once. The
  // message is asserted for certain by "a live lock refuses a second holder at once".)
  const refused = reports.filter((r) => r.refusals > 0);
  assert.ok(refused.length >= 1, JSON.stringify(reports));
  for (const { refusal } of refused) {
    assert.match(
      refusal,
      /^Cannot retrain as one retraining or promotion at a time may change a registry: .*, locked by (process \d+ \(retrain: lock_holder\.ts .*\) since \S+|another process, which has not written its details yet)\. Hint/,
    );
  }
});
