import assert from "node:assert/strict";
import { createWasmKernels } from "../../kernels/wasm_kernels.ts";

const worker = (name: string) => new URL(`./workers/${name}.ts`, import.meta.url);

/** A product big enough for two threads to share (with minParallelWork 0). */
function product(kernels: Awaited<ReturnType<typeof createWasmKernels>>) {
  const a = kernels.alloc(64 * 64), b = kernels.alloc(64 * 64), c = kernels.alloc(64 * 64);
  return () => kernels.gemm({ m: 64, n: 64, k: 64, a, b, c });
}

Deno.test("a kernel worker that hangs turns a product into a clear error after the timeout, and closes the kernels", async () => {
  const kernels = await createWasmKernels({
    threads: 2,
    minParallelWork: 0,
    timeoutMs: 200,
    workerModule: worker("silent_worker"),
  });
  const multiply = product(kernels);
  const started = performance.now();
  assert.throws(
    multiply,
    /Cannot compute as kernel worker 1 must finish its block within 200 ms: it did not \(it died or hangs\)\. The kernels are now closed\. Hint: rerun, or use --threads 1/,
  );
  const waited = performance.now() - started;
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
