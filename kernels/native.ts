/**
 * Native twins of the hottest WebAssembly kernels (kernels/native/kernels.c),
 * loaded through Deno's FFI where it is allowed: on Linux x86-64, when the
 * process may open kernels/native/libkernels-linux-x86_64.so
 * (`--allow-ffi=kernels/native/libkernels-linux-x86_64.so`, as the training
 * tasks grant). They run in place on the kernels' shared memory and give the
 * bits of the kernels they replace, so a training's results do not depend on
 * whether they ran (only which NaN a NaN is may differ: see docs/kernels.md).
 * Anywhere else the WebAssembly kernels run alone.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

/** The library, relative to this module. */
export const NATIVE_LIBRARY: URL = new URL(
  "./native/libkernels-linux-x86_64.so",
  import.meta.url,
);

/** Where `deno task build:native` records the library's SHA-256 (as `sha256sum` prints it). */
const NATIVE_DIGEST: URL = new URL("./native/libkernels-linux-x86_64.so.sha256", import.meta.url);

/** The interface version the library must report (its `nativeVersion()`). */
const VERSION = 2;

/** Names of the WebAssembly kernels that have a native twin. */
export type NativeKernelName = "gemm" | "gemmCsr" | "adamRange";

/** The kernels the library replaces, with how many int32 arguments each takes after the memory. */
const ARGUMENTS: Record<NativeKernelName, number> = { gemm: 17, gemmCsr: 17, adamRange: 7 };

/** A kernel bound to one memory, called with the WebAssembly kernel's own arguments. */
export type BoundKernel = (...args: number[]) => void;

/** The instruction sets the library is built for, narrowest first. */
export const NATIVE_ISAS = ["SSE2", "AVX2", "AVX-512"] as const;

/** The native kernels, opened once per thread. */
export interface NativeKernels {
  /**
   * The instruction set they run with: the widest this processor has
   * ("AVX-512", "AVX2" or "SSE2") unless {@linkcode NativeKernels.useIsa} chose another.
   */
  readonly isa: string;
  /**
   * Makes every thread's kernels run with `isa`, or the widest this processor
   * has if that is narrower; returns the one in effect. All give the same
   * bits, NaN aside (the tests check it). Only while no product runs.
   */
  useIsa(isa: (typeof NATIVE_ISAS)[number]): string;
  /** The kernels bound to `memory` (whose address never moves: it is shared). */
  bind(memory: WebAssembly.Memory): Record<NativeKernelName, BoundKernel>;
}

const int32s = (count: number) => Array.from({ length: count }, () => "i32" as const);

const SYMBOLS = {
  nativeVersion: { parameters: [], result: "i32" },
  nativeIsa: { parameters: [], result: "i32" },
  nativeUseIsa: { parameters: ["i32"], result: "i32" },
  gemm: { parameters: ["buffer", ...int32s(ARGUMENTS.gemm)], result: "void" },
  gemmCsr: { parameters: ["buffer", ...int32s(ARGUMENTS.gemmCsr)], result: "void" },
  adamRange: { parameters: ["buffer", ...int32s(ARGUMENTS.adamRange)], result: "void" },
} as const;

/**
 * A kernel of seventeen int32 arguments bound to the memory at `at`, each
 * argument wrapped to int32 with `| 0` (offsets from 2 GiB up come as numbers
 * past int32, which FFI refuses; the library reads them unsigned). Spelled
 * out, not spread: blocks call it thousands of times a second.
 */
function seventeen(
  kernel: (at: Uint8Array, ...args: number[]) => void,
  at: Uint8Array,
): BoundKernel {
  return (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16) =>
    kernel(
      at,
      a0 | 0,
      a1 | 0,
      a2 | 0,
      a3 | 0,
      a4 | 0,
      a5 | 0,
      a6 | 0,
      a7 | 0,
      a8 | 0,
      a9 | 0,
      a10 | 0,
      a11 | 0,
      a12 | 0,
      a13 | 0,
      a14 | 0,
      a15 | 0,
      a16 | 0,
    );
}

let opened: NativeKernels | null | undefined;
let problem: string | null = null;

/**
 * Why the native kernels were granted yet could not load (a damaged library,
 * one that fails to open or reports another version), or null: nothing went
 * wrong, or they were never meant to run here.
 */
export function nativeKernelsProblem(): string | null {
  openNativeKernels();
  return problem;
}

/**
 * Whether the library's bytes are the ones its build recorded. A damaged copy
 * (truncated, a flipped bit) would not fail cleanly: dlopen of a truncated
 * file kills the process with SIGBUS, and a changed instruction could do anything.
 */
function intact(path: string): boolean {
  const digestPath = fileURLToPath(NATIVE_DIGEST);
  for (const file of [path, digestPath]) {
    if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") return false;
  }
  try {
    const recorded = Deno.readTextFileSync(digestPath).split(/\s/)[0];
    return createHash("sha256").update(Deno.readFileSync(path)).digest("hex") === recorded;
  } catch {
    return false;
  }
}

/**
 * Opens the native kernels, or returns null where they cannot run: another
 * platform, no permission to open or read the library (checked first, so Deno
 * never prompts), or a library that is damaged, fails to load or reports
 * another version ({@linkcode nativeKernelsProblem} then says which).
 */
export function openNativeKernels(): NativeKernels | null {
  if (opened !== undefined) return opened;
  opened = null;
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") return opened;
  // Only a library on disk (not the module loaded over the network), its path decoded.
  if (NATIVE_LIBRARY.protocol !== "file:") return opened;
  const path = fileURLToPath(NATIVE_LIBRARY);
  if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") return opened;
  const hint = "the WebAssembly kernels run instead (the same results, slower). Hint: restore it " +
    "with git checkout kernels/native, or rebuild it with deno task build:native";
  if (!intact(path)) {
    problem = `${path} does not match the SHA-256 its build recorded, so it is not loaded: ${hint}`;
    return opened;
  }
  let library;
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    problem = `${path} could not be loaded (${(error as Error).message}): ${hint}`;
    return opened;
  }
  if (library.symbols.nativeVersion() !== VERSION) {
    problem = `${path} has interface version ${library.symbols.nativeVersion()}, not ` +
      `${VERSION}: ${hint}`;
    library.close();
    return opened;
  }
  const named = (level: number) => NATIVE_ISAS[level - 1] ?? "SSE2";
  const { gemm, gemmCsr, adamRange, nativeIsa, nativeUseIsa } = library.symbols;
  opened = {
    get isa() {
      return named(nativeIsa());
    },
    useIsa: (isa) => named(nativeUseIsa(NATIVE_ISAS.indexOf(isa) + 1)),
    bind(memory) {
      // Any view of a shared memory has its one address, however much it grows later; `| 0`
      // wraps offsets from 2 GiB up, as in seventeen().
      const at = new Uint8Array(memory.buffer);
      return {
        gemm: seventeen(gemm, at),
        gemmCsr: seventeen(gemmCsr, at),
        adamRange: (a0, a1, a2, a3, a4, a5, a6) =>
          adamRange(at, a0 | 0, a1 | 0, a2 | 0, a3 | 0, a4 | 0, a5 | 0, a6 | 0),
      };
    },
  };
  return opened;
}
