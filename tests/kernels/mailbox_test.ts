import assert from "node:assert/strict";
import { KERNEL_EXPORTS, MAILBOX, SPIN_MS, waitForChange } from "../../kernels/mailbox.ts";

Deno.test("MAILBOX gives each field its own slot, the arguments last, all inside one mailbox", () => {
  const fields = [MAILBOX.request, MAILBOX.done, MAILBOX.kernel];
  assert.equal(new Set(fields).size, fields.length);
  for (const slot of fields) assert.ok(slot >= 0 && slot < MAILBOX.firstArg, String(slot));
  assert.ok(MAILBOX.firstArg + MAILBOX.args <= MAILBOX.size);
  // A mailbox spans at least a 64-byte cache line, so two workers never write to the same one.
  assert.ok(MAILBOX.size * Int32Array.BYTES_PER_ELEMENT >= 64);
});

Deno.test("KERNEL_EXPORTS are functions of gemm.wasm, each taking no more arguments than a mailbox holds", async () => {
  const module = await WebAssembly.compile(
    await Deno.readFile(new URL("../../kernels/gemm.wasm", import.meta.url)),
  );
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  for (const name of KERNEL_EXPORTS) {
    const kernel = instance.exports[name];
    assert.equal(typeof kernel, "function", name);
    const arity = (kernel as (...args: number[]) => void).length;
    assert.ok(arity > 0 && arity <= MAILBOX.args, `${name} takes ${arity} arguments`);
  }
  assert.equal(new Set(KERNEL_EXPORTS).size, KERNEL_EXPORTS.length);
});

Deno.test("waitForChange() returns the current value at once when it already differs", () => {
  const control = new Int32Array(new SharedArrayBuffer(4 * MAILBOX.size));
  control[MAILBOX.done] = 7;
  const start = performance.now();
  assert.equal(waitForChange(control, MAILBOX.done, 6), 7);
  assert.ok(performance.now() - start < SPIN_MS + 50);
});

Deno.test("waitForChange() sleeps past its spin and wakes with the value another thread stores", async () => {
  const control = new Int32Array(new SharedArrayBuffer(4 * MAILBOX.size));
  const source = `self.onmessage = ({ data }) => {
    setTimeout(() => {
      Atomics.store(data, ${MAILBOX.request}, -3);
      Atomics.notify(data, ${MAILBOX.request});
    }, 60);
    self.postMessage("armed");
  };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    const armed = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage(control);
    await armed;
    const start = performance.now();
    const seen = waitForChange(control, MAILBOX.request, 0);
    const waited = performance.now() - start;
    assert.equal(seen, -3);
    assert.ok(waited > SPIN_MS, `returned after ${waited} ms, before the other thread stored`);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});
