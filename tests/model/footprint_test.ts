import assert from "node:assert/strict";
import { trainingFootprint } from "../../model/footprint.ts";

Deno.test("trainingFootprint() counts parameters, gradients, workspace and rows in the kernels, optimiser state outside", () => {
  const f = trainingFootprint({ sizes: [4, 3, 2], batch: 5, optimizer: "sgd", rowBytes: 100 });
  // (4+1)·3 + (3+1)·2 = 23 parameters.
  assert.equal(f.parameters, 23);
  assert.equal(f.kernelBytes, 4 * (2 * 23 + 4 * 5 * (3 + 2)) + 100);
  assert.equal(f.hostBytes, 8 * 23 + 4 * 23);
  const adam = trainingFootprint({
    sizes: [4, 3, 2],
    batch: 5,
    optimizer: "adam",
    keepsBest: true,
  });
  assert.equal(adam.hostBytes, 16 * 23 + 8 * 23);
});

Deno.test("trainingFootprint() of the default network is tiny and of --hidden 2000000 past 4 GiB", () => {
  const small = trainingFootprint({ sizes: [784, 256, 10], batch: 100, optimizer: "adam" });
  assert.ok(small.kernelBytes < 4 * 2 ** 20);
  const huge = trainingFootprint({ sizes: [784, 2_000_000, 10], batch: 100, optimizer: "adam" });
  assert.ok(huge.kernelBytes > 4 * 2 ** 30);
});
