import assert from "node:assert/strict";
import {
  JOB,
  KERNEL_EXPORTS,
  MAILBOX,
  mailboxAt,
  publishBlocks,
  SPIN_MS,
  takeBlock,
  waitForChange,
} from "../../kernels/mailbox.ts";

Deno.test("the job board's areas never overlap, and each mailbox has a cache line of its own", () => {
  const areas: [string, number, number][] = [
    ["header", 0, JOB.scratch],
    ["scratch", JOB.scratch, JOB.scratch + 256],
    ["share", JOB.share, JOB.share + 256],
    ["done", JOB.done, JOB.done + JOB.maxBlocks],
    ["owner", JOB.owner, JOB.owner + JOB.maxBlocks],
    ["table", JOB.table, JOB.table + JOB.maxBlocks * JOB.args],
    ["kernel", JOB.kernel, JOB.kernel + JOB.maxBlocks],
    ["scratchArg", JOB.scratchArg, JOB.scratchArg + JOB.maxBlocks],
  ];
  for (let i = 1; i < areas.length; i++) assert.ok(areas[i - 1][2] <= areas[i][1], areas[i][0]);
  assert.ok(areas[areas.length - 1][2] <= JOB.size);
  assert.ok(JOB.shares < JOB.scratch);
  // Two workers never write to the same 64-byte line.
  assert.ok(MAILBOX.size * Int32Array.BYTES_PER_ELEMENT >= 64);
  assert.equal(mailboxAt(1) - mailboxAt(0), MAILBOX.size);
  assert.equal(mailboxAt(0), JOB.size);
});

Deno.test("each thread takes its own share of blocks first, then the others', each block once", () => {
  const control = new Int32Array(new SharedArrayBuffer(mailboxAt(3) * 4));
  control[JOB.shares] = 3;
  publishBlocks(control, 7, 3);
  // Shares [0, 2), [2, 4), [4, 7): thread 1 takes 2 and 3, then 4, 5, 6 from thread 2's, then 0, 1.
  const taken = Array.from({ length: 7 }, () => takeBlock(control, 1));
  assert.deepEqual(taken, [2, 3, 4, 5, 6, 0, 1]);
  assert.equal(takeBlock(control, 0), -1);
  // Shares [0, 1), [1, 3), [3, 5): thread 2 takes its own, then 0's (taken), then 1's.
  publishBlocks(control, 5, 3);
  assert.deepEqual([takeBlock(control, 2), takeBlock(control, 0), takeBlock(control, 2)], [
    3,
    0,
    4,
  ]);
  assert.deepEqual([takeBlock(control, 2), takeBlock(control, 2), takeBlock(control, 2)], [
    0 + 1,
    2,
    -1,
  ]);
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
