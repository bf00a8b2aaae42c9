import assert from "node:assert/strict";
import { mcnemar, mcnemarExact } from "../../app/mcnemar.ts";

/** Relative closeness, for p-values computed in log space. */
function close(actual: number, expected: number, tolerance = 1e-9) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance * expected,
    `expected ${expected}, got ${actual}`,
  );
}

Deno.test("mcnemarExact() matches exact binomial tails computed with big integers", () => {
  close(mcnemarExact(1, 5), 0.21875);
  close(mcnemarExact(0, 10), 0.001953125);
  // Reference values: 2·Σ C(n,i)/2^n for i ≤ min(b, c), in Python fractions.
  close(mcnemarExact(20, 40), 0.01348929373119186);
  close(mcnemarExact(300, 400), 0.00017847631448562445);
  close(mcnemarExact(1200, 1300), 0.047681865221043604);
});

Deno.test("mcnemarExact() is symmetric, 1 for an even split or no discordant pairs", () => {
  assert.equal(mcnemarExact(5, 1), mcnemarExact(1, 5));
  assert.equal(mcnemarExact(0, 0), 1);
  assert.equal(mcnemarExact(3, 3), 1);
  assert.equal(mcnemarExact(1000, 1000), 1);
  assert.equal(mcnemarExact(0, 1), 1);
});

Deno.test("mcnemarExact() stays finite for thousands of one-sided disagreements", () => {
  const p = mcnemarExact(0, 2000);
  assert.ok(p >= 0 && p < 1e-300, String(p));
  close(mcnemarExact(5, 2000), mcnemarExact(2000, 5));
});

Deno.test("mcnemarExact() rejects counts that are not non-negative integers", () => {
  assert.throws(() => mcnemarExact(-1, 3), {
    name: "RangeError",
    message: "Cannot run McNemar's test as b must be a count (an integer ≥ 0): current value is -1",
  });
  assert.throws(() => mcnemarExact(2, 1.5), { message: /c must be a count.*1\.5/ });
});

Deno.test("mcnemar() counts the images only one of two prediction sets gets right", () => {
  const labels = new Uint8Array([0, 1, 2, 3, 4, 5, 6]);
  const first = new Uint8Array([0, 1, 2, 9, 9, 9, 9]);
  const second = new Uint8Array([0, 9, 9, 3, 9, 9, 6]);
  // both right: 0; only first: 1, 2; only second: 3, 6; both wrong: 4, 5.
  assert.deepEqual(mcnemar(labels, first, second), { b: 2, c: 2, pValue: 1 });
  const oneSided = mcnemar(labels, first, labels);
  assert.deepEqual([oneSided.b, oneSided.c], [0, 4]);
  close(oneSided.pValue, 0.125);
  assert.throws(() => mcnemar(labels, first, new Uint8Array(3)), {
    message: /7 labels, 7 and 3 predictions/,
  });
});
