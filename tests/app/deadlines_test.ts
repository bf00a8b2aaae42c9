import assert from "node:assert/strict";
import { Deadlines } from "../../app/deadlines.ts";
import { ConfigError } from "../../engine/errors.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("Deadlines expires each uncleared deadline once, in the order they were set", async () => {
  const deadlines = new Deadlines(300);
  const expired: number[] = [];
  const setAt: number[] = [], expiredAt: number[] = [];
  for (let i = 0; i < 6; i++) {
    setAt.push(performance.now());
    const deadline = deadlines.set(() => {
      expired.push(i);
      expiredAt.push(performance.now());
    });
    if (i % 2 === 1) deadline.clear();
    await sleep(2);
  }
  for (let i = 0; i < 200 && expired.length < 3; i++) await sleep(10);
  assert.deepEqual(expired, [0, 2, 4]);
  // None expires before its 300 ms are up.
  for (const [k, i] of expired.entries()) {
    assert.ok(expiredAt[k] - setAt[i] >= 299, `deadline ${i} after ${expiredAt[k] - setAt[i]} ms`);
  }
  assert.equal(deadlines.pending, 0);
  deadlines.close();
});

Deno.test("Deadlines clears out of order, twice, or after expiry without effect on the others", async () => {
  const deadlines = new Deadlines(20);
  const expired: string[] = [];
  const a = deadlines.set(() => expired.push("a"));
  const b = deadlines.set(() => expired.push("b"));
  const c = deadlines.set(() => expired.push("c"));
  b.clear();
  b.clear();
  assert.equal(deadlines.pending, 2);
  await sleep(60);
  assert.deepEqual(expired, ["a", "c"]);
  a.clear();
  c.clear();
  // A deadline set after the others expired gets its own full length.
  const late = performance.now();
  await new Promise<void>((resolve) => deadlines.set(resolve));
  assert.ok(performance.now() - late >= 19, `${performance.now() - late} ms`);
  deadlines.close();
});

Deno.test("Deadlines keeps its queue as short as the live deadlines when they clear in order", () => {
  const deadlines = new Deadlines(60_000);
  for (let i = 0; i < 5000; i++) deadlines.set(() => {}).clear();
  assert.equal(deadlines.pending, 0);
  const live = deadlines.set(() => {});
  assert.equal(deadlines.pending, 1);
  live.clear();
  deadlines.close();
});

Deno.test("Deadlines can be set from an expiring deadline, and close stops the timer", async () => {
  const deadlines = new Deadlines(10);
  const expired: string[] = [];
  deadlines.set(() => {
    expired.push("first");
    deadlines.set(() => expired.push("second"));
  });
  await sleep(50);
  assert.deepEqual(expired, ["first", "second"]);
  deadlines.set(() => expired.push("never"));
  deadlines.close();
  await sleep(30);
  assert.deepEqual(expired, ["first", "second"]);
});

Deno.test("Deadlines refuses a length that is not a positive whole number of milliseconds", () => {
  for (const ms of [0, -1, 1.5, NaN, 2 ** 31]) {
    assert.throws(() => new Deadlines(ms), {
      name: ConfigError.name,
      message: `Cannot set deadlines as their length must be an integer from 1 to 2147483647 ms: ` +
        `current value is ${ms}`,
    });
  }
});
