import assert from "node:assert/strict";
import {
  JOB,
  KERNEL_EXPORTS,
  MAILBOX,
  mailboxAt,
  SPIN_MS,
  waitForChange,
} from "../../kernels/mailbox.ts";

Deno.test("the job board's areas never overlap, and each mailbox has a cache line of its own", () => {
  const areas: [string, number, number][] = [
    ["header", 0, JOB.scratch],
    ["scratch", JOB.scratch, JOB.scratch + 256],
    ["done", JOB.done, JOB.done + JOB.maxBlocks],
    ["owner", JOB.owner, JOB.owner + JOB.maxBlocks],
    ["table", JOB.table, JOB.table + JOB.maxBlocks * JOB.args],
  ];
  for (let i = 1; i < areas.length; i++) assert.ok(areas[i - 1][2] <= areas[i][1], areas[i][0]);
  assert.ok(areas[areas.length - 1][2] <= JOB.size);
  for (const field of [JOB.counter, JOB.kernel, JOB.scratchArg]) assert.ok(field < JOB.scratch);
  // Two workers never write to the same 64-byte line.
  assert.ok(MAILBOX.size * Int32Array.BYTES_PER_ELEMENT >= 64);
  assert.equal(mailboxAt(1) - mailboxAt(0), MAILBOX.size);
  assert.equal(mailboxAt(0), JOB.size);
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
    assert.ok(arity > 0 && arity <= JOB.args, `${name} takes ${arity} arguments`);
  }
  assert.equal(new Set(KERNEL_EXPORTS).size, KERNEL_EXPORTS.length);
});

Deno.test("waitForChange() returns the current value at once when it already differs", () => {
  const control = new Int32Array(new SharedArrayBuffer(4 * MAILBOX.size));
  control[MAILBOX.request] = 7;
  const start = performance.now();
  assert.equal(waitForChange(control, MAILBOX.request, 6), 7);
  assert.ok(performance.now() - start < SPIN_MS + 50);
});

Deno.test("waitForChange() gives up at its deadline, returning the value unchanged", () => {
  const control = new Int32Array(new SharedArrayBuffer(4 * MAILBOX.size));
  const start = performance.now();
  assert.equal(waitForChange(control, MAILBOX.request, 0, start + 30), 0);
  const waited = performance.now() - start;
  assert.ok(waited >= 29 && waited < 1000, `waited ${waited} ms`);
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
