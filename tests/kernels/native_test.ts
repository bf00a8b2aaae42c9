import assert from "node:assert/strict";
import { type GemmArgs, referenceGemm, type UpdateArgs } from "../../model/kernels.ts";
import { seededRandom } from "../../model/rng.ts";
import { NATIVE_ISAS, NATIVE_LIBRARY, openNativeKernels } from "../../kernels/native.ts";
import { createWasmKernels, type WasmKernels } from "../../kernels/wasm_kernels.ts";
import { DENO } from "../child.ts";
import { firstDifference, tempDir } from "../fixtures.ts";

/** Whether this process may run the native kernels: Linux x86-64 with the library granted. */
const expected = Deno.build.os === "linux" && Deno.build.arch === "x86_64" &&
  Deno.permissions.querySync({ name: "ffi", path: NATIVE_LIBRARY.pathname }).state === "granted";

/**
 * Runs `check` once with each instruction set this processor has (the
 * narrower ones forced), then goes back to the widest: all give the same bits.
 */
async function eachIsa(check: () => Promise<void>): Promise<void> {
  const native = openNativeKernels()!;
  const widest = native.isa as (typeof NATIVE_ISAS)[number];
  try {
    for (const isa of NATIVE_ISAS.slice(0, NATIVE_ISAS.indexOf(widest) + 1)) {
      assert.equal(native.useIsa(isa), isa);
      await check().catch((error) => {
        throw new Error(`with ${isa}: ${error.message}`, { cause: error });
      });
    }
  } finally {
    native.useIsa(widest);
  }
}

/** Kernels on 1 and 2 threads, each with and without the native twins. */
async function bothKinds(): Promise<{ native: WasmKernels[]; wasm: WasmKernels[] }> {
  const make = (threads: number, native: boolean) =>
    createWasmKernels({ threads, minParallelWork: 0, sparseZeros: 0, native });
  return {
    native: [await make(1, true), await make(2, true)],
    wasm: [await make(1, false), await make(2, false)],
  };
}

Deno.test("the native kernels open where FFI is granted on Linux x86-64, and only when asked for", async () => {
  const native = openNativeKernels();
  assert.equal(native !== null, expected);
  const [on, off] = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 1, native: false }),
  ];
  try {
    assert.equal(off.native, null);
    assert.equal(on.native, native?.isa ?? null);
    if (native) {
      assert.ok(["AVX-512", "AVX2", "SSE2"].includes(native.isa), native.isa);
      assert.match(on.name, /^native /);
      // Offsets from 2 GiB up (a memory grown past it) pass as WebAssembly takes them; the
      // blocks here are empty, so nothing is read.
      const bound = native.bind(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }));
      const far = 2 ** 31 + 64;
      bound.gemm(0, 0, 0, 0, 4, far, 4, 1, far, 4, 1, far, 4, 0, far, far, far);
      bound.gemmCsr(0, 0, 0, 4, 4, far, far, far, far, 0, far, 4, far, 4, 0, far, far);
      bound.adamRange(0, 0, far, far, far, far, 64);
    }
  } finally {
    on.close();
    off.close();
  }
});

Deno.test({
  name:
    "a damaged native library is never loaded: the WebAssembly kernels run, and the problem is named",
  ignore: !expected,
  fn: async () => {
    // A copy of the loader beside a copy of the library, as a user's checkout would hold them.
    const dir = await tempDir();
    await Deno.mkdir(`${dir}/native`);
    await Deno.copyFile(new URL("../../kernels/native.ts", import.meta.url), `${dir}/native.ts`);
    const library = await Deno.readFile(NATIVE_LIBRARY);
    const digest = new URL(`${NATIVE_LIBRARY.href}.sha256`);
    await Deno.copyFile(digest, `${dir}/native/libkernels-linux-x86_64.so.sha256`);
    const open = async (bytes: Uint8Array) => {
      await Deno.writeFile(`${dir}/native/libkernels-linux-x86_64.so`, bytes);
      const script = `import { nativeKernelsProblem, openNativeKernels } from "${dir}/native.ts";` +
        "console.log(JSON.stringify({ opened: openNativeKernels() !== null, " +
        "problem: nativeKernelsProblem() }));";
      const output = await new Deno.Command(DENO, {
        args: ["eval", `--allow-read=${dir}`, `--allow-ffi=${dir}/native`, script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      return JSON.parse(new TextDecoder().decode(output.stdout));
    };
    assert.deepEqual(await open(library), { opened: true, problem: null });
    // Truncated, dlopen would kill the process with SIGBUS; a flipped bit could do anything.
    for (const damaged of [library.slice(0, 1000), library.map((b, i) => i === 5000 ? b ^ 1 : b)]) {
      const { opened, problem } = await open(damaged);
      assert.equal(opened, false);
      assert.match(
        problem,
        /does not match the SHA-256 its build recorded.*deno task build:native/,
      );
    }
  },
});

Deno.test({
  name:
    "the native index product gives the WebAssembly kernel's bits, and the reference's, on every width",
  ignore: !expected,
  fn: () =>
    eachIsa(async () => {
      const random = seededRandom(41, "native csr");
      const { native, wasm } = await bothKinds();
      try {
        // Widths around every vector and pass size (4, 8, 16 lanes; passes of 8 vectors; panels of 128).
        const widths = [1, 3, 4, 5, 15, 16, 17, 33, 50, 64, 100, 127, 128, 129, 200, 257, 800];
        // Then 300 rows into 50 and 10 columns (rows of B not in whole cache lines: the native
        // forward copies them into a panel of whole lines first, from 256 rows a block).
        for (let t = 0; t < 64; t++) {
          const n = t >= 62 ? [50, 10][t - 62] : t >= 60 ? 800 : widths[t % widths.length];
          // Cases 60 and 61: a C of 200 × 800 (640 KB transposed), the wide weight gradient's kind.
          const cols = t >= 60 ? 200 : 1 + Math.floor(random() * 90);
          const stored = 5 + Math.floor(random() * 40);
          const source = Float32Array.from(
            { length: stored * cols },
            () => random() < 0.75 ? (random() < 0.1 ? -0 : 0) : random() * 4 - 2,
          );
          for (const kernels of [...native, ...wasm]) kernels.prepareRows(source, cols);
          const transA = t % 2 === 1 && t < 62, k = transA ? 1 + Math.floor(random() * 30) : cols;
          const m = transA ? cols : t >= 62 ? 300 : 1 + Math.floor(random() * 30);
          const aRows = Uint32Array.from(
            { length: transA ? k : m },
            () => Math.floor(random() * stored),
          );
          const fill = (length: number) => Float32Array.from({ length }, () => random() * 2 - 1);
          const b = fill(k * n);
          // Some rows of B all zeros (skipped when transposed), and a −0 among them.
          for (let p = 0; p < k; p += 3) b.fill(p % 2 ? 0 : -0, p * n, (p + 1) * n);
          // Transposed, C up to 512 KB is scattered by another kernel unless accumulated into.
          const accumulate = transA ? t % 4 === 1 && t < 60 : t % 3 === 0;
          const args: GemmArgs = {
            m,
            n,
            k,
            a: source,
            aRows,
            transA,
            b,
            c: fill(m * n).map((v, i) => i % 7 === 0 ? -0 : v),
            accumulate,
            bias: !accumulate && !transA && t % 4 === 2 ? fill(n) : undefined,
          };
          const reference = (args.c as Float32Array).slice();
          referenceGemm({ ...args, c: reference });
          for (const kernels of [...native, ...wasm]) {
            const c = (args.c as Float32Array).slice();
            kernels.gemm({ ...args, c });
            const at = firstDifference(c, reference);
            assert.equal(
              at,
              -1,
              `${kernels.name}, ${m}×${n}×${k} transA ${transA}: differs at ${at}`,
            );
          }
        }
        // Infinities and NaN in B: the sparse kernels skip A's zeros alike (the reference would
        // make 0·∞ a NaN), so native and WebAssembly agree on every value, NaN for NaN.
        const cols = 40, stored = 20, n = 150;
        // Infinite terms in A too: transposed, rows of B all zeros are skipped alike, never 0·∞.
        const source = Float32Array.from(
          { length: stored * cols },
          (_, i) => i % 3 ? 0 : i % 29 === 0 ? -Infinity : i % 11 - 5,
        );
        for (const kernels of [...native, ...wasm]) kernels.prepareRows(source, cols);
        const specials = [Infinity, -Infinity, NaN, 3e38, -3e38];
        for (const transA of [false, true]) {
          const k = transA ? 12 : cols, m = transA ? cols : 12;
          const b = Float32Array.from(
            { length: k * n },
            (_, i) => i % 13 === 0 ? specials[i % specials.length] : random() - 0.5,
          );
          for (let p = 0; p < k; p += 4) b.fill(0, p * n, (p + 1) * n);
          const aRows = Uint32Array.from({ length: 12 }, (_, r) => (r * 7) % stored);
          const results = [...native, ...wasm].map((kernels) => {
            const c = new Float32Array(m * n);
            kernels.gemm({ m, n, k, a: source, aRows, transA, b, c, accumulate: transA });
            return c;
          });
          for (const c of results.slice(1)) assert.equal(firstDifference(c, results[0], true), -1);
        }
      } finally {
        for (const kernels of [...native, ...wasm]) kernels.close();
      }
    }),
});

Deno.test({
  name:
    "the native dense product gives the WebAssembly kernel's bits, and the reference's, on every shape",
  ignore: !expected,
  fn: () =>
    eachIsa(async () => {
      const random = seededRandom(47, "native dense");
      const { native, wasm } = await bothKinds();
      try {
        // Around 4, 8, 12 and 16 lanes, one to four vectors, four-row tiles, and the 10 classes.
        const sizes = [1, 2, 3, 4, 5, 7, 9, 10, 12, 15, 16, 17, 31, 33, 48, 63, 64, 65, 70, 129];
        const pick = () => sizes[Math.floor(random() * sizes.length)];
        for (let t = 0; t < 120; t++) {
          const m = pick(), n = pick(), k = t % 10 === 0 ? 0 : pick();
          const fill = (length: number) =>
            Float32Array.from({ length }, () => random() < 0.1 ? -0 : random() * 2 - 1);
          const accumulate = t % 3 === 0;
          const args: GemmArgs = {
            m,
            n,
            k,
            a: fill(m * k),
            b: fill(k * n),
            c: fill(m * n),
            transA: t % 2 === 1,
            transB: t % 4 >= 2,
            accumulate,
            bias: !accumulate && t % 5 === 1 ? fill(n) : undefined,
          };
          // A ReLU gate (never with a bias or accumulating) in some cases: zeros, −0, NaN and negatives.
          const gate = t % 4 === 3 && !args.bias && !accumulate
            ? Float32Array.from({ length: m * n }, (_, i) => [0, -0, NaN, -1][i % 9] ?? random())
            : undefined;
          const reference = (args.c as Float32Array).slice();
          referenceGemm({ ...args, c: reference });
          if (gate) gate.forEach((z, i) => z <= 0 && (reference[i] = 0));
          for (const kernels of [...native, ...wasm]) {
            // In the kernels' memory, so the gate is applied as C is stored.
            const c = kernels.alloc(m * n), a = kernels.alloc(m * k), b = kernels.alloc(k * n);
            c.set(args.c as Float32Array);
            a.set(args.a as Float32Array);
            b.set(args.b as Float32Array);
            let reluGate: Float32Array | undefined;
            if (gate) (reluGate = kernels.alloc(m * n)).set(gate);
            kernels.gemm({ ...args, a, b, c, reluGate });
            const at = firstDifference(c, reference);
            assert.equal(
              at,
              -1,
              `${kernels.name}, ${m}×${n}×${k} ${JSON.stringify({ ...args, a: 0, b: 0, c: 0 })}: ` +
                `differs at ${at}`,
            );
            for (const buffer of [a, b, c, reluGate]) if (buffer) kernels.free(buffer);
          }
        }
      } finally {
        for (const kernels of [...native, ...wasm]) kernels.close();
      }
    }),
});

Deno.test({
  name:
    "native Adam gives the WebAssembly kernel's bits on every length, zeros and specials included",
  ignore: !expected,
  fn: () =>
    eachIsa(async () => {
      const random = seededRandom(43, "native adam");
      const { native, wasm } = await bothKinds();
      try {
        for (const size of [1, 3, 15, 16, 17, 63, 1000, 40_001]) {
          const start = {
            params: Float32Array.from({ length: size }, () => random() * 2 - 1),
            grad: Float32Array.from(
              { length: size },
              (_, i) => [0, -0, NaN, Infinity, 1e-30][i % 50] ?? random() - 0.5,
            ),
            first: Float32Array.from({ length: size }, () => random() * 0.1 - 0.05),
            second: Float32Array.from({ length: size }, () => random() * 0.01),
          };
          const results = [...native, ...wasm].map((kernels) => {
            const buffers = Object.fromEntries(
              Object.entries(start).map(([key, values]) => {
                const buffer = kernels.alloc(size);
                buffer.set(values);
                return [key, buffer];
              }),
            ) as typeof start;
            const args: UpdateArgs = {
              rule: "adam",
              ...buffers,
              size,
              eta: 0.001,
              momentum: 0,
              adam: [0.9, 0.1, 0.999, 0.001, 0.001 / 0.19, 1 / Math.sqrt(0.002), 1e-8].map(
                Math.fround,
              ) as unknown as UpdateArgs["adam"],
            };
            assert.equal(kernels.update(args), true, kernels.name);
            assert.equal(kernels.update(args), true, kernels.name);
            return buffers;
          });
          for (const other of results.slice(1)) {
            for (const key of ["params", "first", "second"] as const) {
              assert.equal(
                firstDifference(other[key], results[0][key], true),
                -1,
                `${key}, ${size}`,
              );
            }
          }
        }
      } finally {
        for (const kernels of [...native, ...wasm]) kernels.close();
      }
    }),
});
