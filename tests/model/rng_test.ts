import assert from "node:assert/strict";
import { normalFrom, permutation, seededRandom, uniformFrom } from "../../model/rng.ts";

const draw = (random: () => number, n: number) => Array.from({ length: n }, random);

Deno.test("seededRandom() gives the same sequence for the same seed and purpose", () => {
  assert.deepEqual(draw(seededRandom(5, "init"), 100), draw(seededRandom(5, "init"), 100));
  assert.deepEqual(
    draw(seededRandom(5, "shuffle", 3), 100),
    draw(seededRandom(5, "shuffle", 3), 100),
  );
});

Deno.test("seededRandom() gives the golden sequence for seed 1, purpose init", () => {
  assert.deepEqual(draw(seededRandom(1, "init"), 3), [
    0.6460185723844916,
    0.30026626866310835,
    0.9469144332688302,
  ]);
});

Deno.test("seededRandom() gives other streams for other seeds, and for nearby ones", () => {
  const first = new Set<number>();
  for (let seed = 0; seed < 1000; seed++) first.add(seededRandom(seed, "init")());
  assert.equal(first.size, 1000);
  assert.notDeepEqual(draw(seededRandom(1, "init"), 10), draw(seededRandom(2, "init"), 10));
});

Deno.test("seededRandom() gives each purpose its own stream, so one does not shift another", () => {
  const streams = [
    ["init"],
    ["shuffle"],
    ["shuffle", 1],
    ["shuffle", 2],
    ["shuffle1"],
    ["shuf", "fle"],
    [],
  ].map((parts) => draw(seededRandom(9, ...parts), 5).join(","));
  assert.equal(new Set(streams).size, streams.length);
  // The order of the parts matters.
  assert.notDeepEqual(draw(seededRandom(9, "a", "b"), 5), draw(seededRandom(9, "b", "a"), 5));
});

Deno.test("seededRandom() draws uniformly from [0, 1) in steps of 2⁻³²", () => {
  const values = draw(seededRandom(3, "uniform"), 20000);
  for (const v of values) {
    assert.ok(v >= 0 && v < 1, String(v));
    assert.ok(Number.isInteger(v * 2 ** 32), String(v));
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, String(mean));
  const tenths = new Array(10).fill(0);
  for (const v of values) tenths[Math.floor(v * 10)]++;
  for (const count of tenths) assert.ok(Math.abs(count - 2000) < 200, tenths.join(" "));
});

Deno.test("uniformFrom() draws from [min, max) with mean (min + max) / 2 and variance (max − min)²/12", () => {
  const values = draw(uniformFrom(seededRandom(4, "u"), -3, 5), 20000);
  for (const v of values) assert.ok(v >= -3 && v < 5, String(v));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  assert.ok(Math.abs(mean - 1) < 0.06, String(mean));
  assert.ok(Math.abs(variance - 64 / 12) / (64 / 12) < 0.03, String(variance));
});

Deno.test("normalFrom() draws with the given mean and deviation, a normal's tails included", () => {
  const values = draw(normalFrom(seededRandom(6, "n"), 2, 0.5), 20000);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  assert.ok(Math.abs(mean - 2) < 0.02, String(mean));
  assert.ok(Math.abs(sd - 0.5) < 0.015, String(sd));
  // About 68.3% within one deviation, 95.4% within two.
  const within = (k: number) => values.filter((v) => Math.abs(v - 2) < k * 0.5).length / 20000;
  assert.ok(Math.abs(within(1) - 0.683) < 0.015, String(within(1)));
  assert.ok(Math.abs(within(2) - 0.954) < 0.01, String(within(2)));
});

Deno.test("uniformFrom() and normalFrom() give the same draws for the same seed", () => {
  assert.deepEqual(
    draw(uniformFrom(seededRandom(8, "x"), 0, 2), 10),
    draw(uniformFrom(seededRandom(8, "x"), 0, 2), 10),
  );
  assert.deepEqual(
    draw(normalFrom(seededRandom(8, "x"), 0, 1), 10),
    draw(normalFrom(seededRandom(8, "x"), 0, 1), 10),
  );
});

Deno.test("permutation() orders 0..n−1, the same order for the same seed", () => {
  assert.deepEqual(
    Array.from(permutation(10, seededRandom(7, "perm"))),
    [3, 0, 4, 2, 6, 9, 8, 5, 1, 7],
  );
  const order = permutation(1000, seededRandom(7, "big"));
  assert.ok(order instanceof Uint32Array);
  assert.deepEqual(
    Array.from(order).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(order, permutation(1000, seededRandom(7, "big")));
  assert.notDeepEqual(order, permutation(1000, seededRandom(8, "big")));
});

Deno.test("permutation() of 0 and 1 items is empty and [0]", () => {
  assert.deepEqual(Array.from(permutation(0, seededRandom(1))), []);
  assert.deepEqual(Array.from(permutation(1, seededRandom(1))), [0]);
});

Deno.test("permutation() puts each item in each place about equally often", () => {
  const random = seededRandom(2, "fair");
  const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
  for (let t = 0; t < 4000; t++) {
    permutation(4, random).forEach((item, place) => counts[item][place]++);
  }
  for (const row of counts) {
    for (const c of row) assert.ok(Math.abs(c - 1000) < 100, String(counts));
  }
});
