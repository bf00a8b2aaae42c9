import assert from "node:assert/strict";
import { blasWarning } from "../../bench/torch.ts";

Deno.test("blasWarning passes tuned BLAS libraries and flags the reference one with a hint", () => {
  for (
    const tuned of [
      "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64",
      "BLAS_INFO=mkl",
      "/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3",
      "BLAS_INFO=accelerate",
    ]
  ) assert.equal(blasWarning(tuned), null, tuned);
  const warning = blasWarning("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3") ?? "";
  assert.match(warning, /untuned BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\)/);
  assert.match(warning, /Hint: `apt-get install libopenblas0-pthread`/);
  // Without /proc the peer knows only PyTorch's build setting: said so, not called untuned.
  const unknown = blasWarning("BLAS_INFO=generic") ?? "";
  assert.match(unknown, /could not be told \(BLAS_INFO=generic\)/);
  assert.match(unknown, /Hint: `apt-get install libopenblas0-pthread`/);
});
