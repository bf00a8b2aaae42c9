/**
 * A child process for lock_test.ts, run as
 * `deno run --allow-read --allow-write lock_holder.ts REGISTRY MODE [LOG]`:
 *
 * - `hold`: takes the registry lock, prints `held`, and blocks until killed;
 * - `race`: writes `LOG.ready-<pid>`, waits for `LOG.go`, then tries to take
 *   the lock until it gets it, appends `start <pid>` and, 50 ms later,
 *   `end <pid>` to LOG while holding it, releases it, and prints
 *   `{"refusals": n, "refusal": "<first LockError message>"}`.
 *
 * @module
 */
import { LockError } from "../../engine/errors.ts";
import { acquireLock } from "../../registry/lock.ts";

const [registry, mode, log] = Deno.args;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (mode === "hold") {
  await acquireLock(registry, "retrain");
  console.log("held");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} else if (mode === "race") {
  await Deno.writeTextFile(`${log}.ready-${Deno.pid}`, "");
  while (!(await Deno.stat(`${log}.go`).then(() => true, () => false))) await pause(2);
  let refusals = 0;
  let refusal = "";
  for (;;) {
    try {
      const lock = await acquireLock(registry, "retrain");
      await Deno.writeTextFile(log, `start ${Deno.pid}\n`, { append: true });
      await pause(50);
      await Deno.writeTextFile(log, `end ${Deno.pid}\n`, { append: true });
      await lock.release();
      break;
    } catch (error) {
      if (!(error instanceof LockError)) throw error;
      refusal ||= error.message;
      refusals++;
      await pause(5);
    }
  }
  console.log(JSON.stringify({ refusals, refusal }));
} else {
  throw new Error(`unknown mode "${mode}"`);
}
