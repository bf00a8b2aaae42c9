import assert from "node:assert/strict";
import { createWasmKernels } from "../../kernels/wasm_kernels.ts";

const worker = (name: string) => new URL(`./workers/${name}.ts`, import.meta.url);

/** A product big enough to cut into several blocks (with minParallelWork 0). */
function product(kernels: Awaited<ReturnType<typeof createWasmKernels>>, size = 64) {
  const a = kernels.alloc(size * size), b = kernels.alloc(size * size);
  const c = kernels.alloc(size * size);
  for (let i = 0; i < a.length; i++) [a[i], b[i]] = [Math.sin(i), Math.cos(i)];
  return () => {
    kernels.gemm({ m: size, n: size, k: size, a, b, c });
    return c;
  };
}

Deno.test("a kernel worker that never takes work holds nobody up: the caller computes every block", async () => {
  const kernels = await createWasmKernels({
    threads: 2,
    minParallelWork: 0,
    timeoutMs: 200,
    workerModule: worker("silent_worker"),
  });
  try {
    const expected = await createWasmKernels({ threads: 1 });
    const c = product(kernels, 96)();
    assert.deepEqual(c, product(expected, 96)());
    expected.close();
  } finally {
    kernels.close();
  }
});

Deno.test("a kernel worker that hangs holding a block turns the product into a clear error after the timeout, and closes the kernels", async () => {
  const kernels = await createWasmKernels({
    threads: 2,
    minParallelWork: 0,
    timeoutMs: 200,
    workerModule: worker("hanging_worker"),
  });
  const multiply = product(kernels, 512);
  // The worker takes a block as soon as the board has one; should this thread take them all
  // first (the host descheduled the worker), the next product gives it another chance.
  let error: unknown = null, waited = 0;
  for (let tries = 0; tries < 20 && error === null; tries++) {
    const started = performance.now();
    try {
      multiply();
    } catch (caught) {
      error = caught;
    }
    waited = performance.now() - started;
  }
  assert.match(
    String(error),
    /Cannot compute as kernel worker 1 must finish its block within 200 ms: it did not \(it died or hangs\)\. The kernels are now closed\. Hint: rerun, or use --threads 1/,
  );
  assert.ok(waited >= 190 && waited < 5000, `waited ${waited} ms`);
  assert.throws(multiply, /Cannot multiply matrices as the kernels must be open: they were closed/);
});

Deno.test("a kernel worker that dies makes the next product fail at once, naming its error", async () => {
  const kernels = await createWasmKernels({
    threads: 2,
    minParallelWork: 0,
    timeoutMs: 60_000,
    workerModule: worker("dying_worker"),
  });
  // Let the worker's error event reach this thread.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  assert.throws(
    product(kernels),
    /Cannot compute as every kernel worker must be alive: kernel worker 1 failed: .*worker crashed on purpose\. The kernels are now closed/,
  );
  assert.ok(performance.now() - started < 1000);
  kernels.close();
});

Deno.test("kernels whose worker never gets ready fail to start after the timeout instead of waiting forever", async () => {
  await assert.rejects(
    () =>
      createWasmKernels({ threads: 2, startTimeoutMs: 200, workerModule: worker("mute_worker") }),
    /Cannot start kernels as every worker must be ready within 200 ms: some never answered\. Hint: try --threads 1/,
  );
});
