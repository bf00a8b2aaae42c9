import assert from "node:assert/strict";
import { BUILTIN_TARGETS, FUZZ_TARGETS, fuzzInput, runFuzz } from "../../app/fuzz.ts";
import { main } from "../../main.ts";
import { captureConsole, tempDir } from "../fixtures.ts";

/** Targets that fail in each way a finding can, for the fuzzer to catch. */
const FAILING_TARGETS = `
const seeds = () => [{ name: "abc", bytes: new Uint8Array([1, 2, 3, 4]), boundaries: [2] }];
export const targets = {
  throws: { seeds, run() { throw new TypeError("injected"); } },
  hangs: { seeds, run() { for (;;); } },
  hogs: {
    seeds,
    run() {
      const kept = [];
      for (;;) kept.push(new Uint8Array(8 << 20).fill(1));
    },
  },
  exits: { seeds, run() { Deno.exit(7); } },
};
`;

async function failingTargets(): Promise<string> {
  const dir = await tempDir({ prefix: "mnp-fuzz-test-" });
  await Deno.writeTextFile(`${dir}/targets.js`, FAILING_TARGETS);
  return `${dir}/targets.js`;
}

Deno.test("runFuzz() finds nothing in 200 inputs per target, and reaches valid results as well as refusals", async () => {
  const report = await runFuzz({ iterations: 200, seed: 11 });
  assert.deepEqual(
    report.findings.map((f) => `${f.target} #${f.iteration} ${f.kind}: ${f.message}`),
    [],
  );
  assert.deepEqual(report.tried, { idx: 200, model: 200, png: 200 });
  for (const target of FUZZ_TARGETS) {
    assert.ok(report.refused[target] > 100, `${target}: ${report.refused[target]} refused`);
    assert.ok(report.refused[target] < 200, `${target}: no valid input`);
  }
});

Deno.test("runFuzz() reports an injected target that throws a TypeError, with its mutation and input", async () => {
  const module = await failingTargets();
  const out = await tempDir();
  const seen: string[] = [];
  const report = await runFuzz({
    iterations: 3,
    targets: ["throws"],
    targetModule: `file://${module}`,
    out,
    onFinding: (finding) => seen.push(finding.mutation),
  });
  assert.equal(report.findings.length, 3);
  assert.deepEqual(report.tried, { throws: 3 });
  assert.deepEqual(seen, report.findings.map((f) => f.mutation));
  const [first] = report.findings;
  assert.equal(first.kind, "exception");
  assert.equal(first.message, "TypeError: injected");
  assert.equal(first.iteration, 0);
  assert.equal(first.mutation, "seed abc");
  assert.deepEqual(first.input, new Uint8Array([1, 2, 3, 4]));
  assert.equal(first.saved, `${out}/throws-0.bin`);
  assert.deepEqual(await Deno.readFile(`${out}/throws-0.bin`), first.input);
  const saved = JSON.parse(await Deno.readTextFile(`${out}/findings.json`));
  assert.deepEqual(saved.map((f: { iteration: number }) => f.iteration), [0, 1, 2]);
});

Deno.test("runFuzz() reports a hang and a crash, and restarts the child at the next input after each", async () => {
  const report = await runFuzz({
    iterations: 2,
    targets: ["hangs", "exits"],
    targetModule: await failingTargets(),
    timeoutMs: 300,
  });
  assert.deepEqual(report.tried, { hangs: 2, exits: 2 });
  assert.deepEqual(
    report.findings.map((f) => [f.target, f.iteration, f.kind, f.message]),
    [
      ["hangs", 0, "timeout", "it ran past the time bound of 300 ms"],
      ["hangs", 1, "timeout", "it ran past the time bound of 300 ms"],
      ["exits", 0, "crash", "the process exited with code 7"],
      ["exits", 1, "crash", "the process exited with code 7"],
    ],
  );
  assert.deepEqual(report.findings[0].input, new Uint8Array([1, 2, 3, 4]));
});

Deno.test("runFuzz() reports memory past the bound, typed arrays included", async () => {
  const report = await runFuzz({
    iterations: 1,
    targets: ["hogs"],
    targetModule: await failingTargets(),
    timeoutMs: 20_000,
    memoryMb: 160,
  });
  assert.deepEqual(report.findings.map((f) => [f.target, f.iteration, f.kind]), [
    ["hogs", 0, "memory"],
  ]);
  assert.match(report.findings[0].message, /^its process passed the memory bound of 160 MiB/);
});

Deno.test("fuzzInput() gives the same inputs for a seed, and others for another seed", () => {
  for (const name of FUZZ_TARGETS) {
    const target = BUILTIN_TARGETS[name];
    const seeds = target.seeds();
    const run = (seed: number) =>
      Array.from({ length: 20 }, (_, i) => fuzzInput(target, seeds, seed, name, i));
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5), run(6));
  }
});

Deno.test("findingLines() prints a finding's target, kind, mutation, hex prefix and saved file", async () => {
  const { findingLines } = await import("../../cli/fuzz.ts");
  assert.deepEqual(
    findingLines({
      target: "png",
      iteration: 12,
      mutation: "ihdr width = 0 of seed x",
      kind: "exception",
      message: "TypeError: boom",
      input: new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
      saved: "out/png-12.bin",
    }),
    [
      "finding: png #12 exception: TypeError: boom",
      "  mutation: ihdr width = 0 of seed x",
      "  input: 4 bytes: 89 50 4e 47",
      "  saved: out/png-12.bin",
    ],
  );
});

Deno.test("fuzz checks its flags and prints its help", async () => {
  const bad = captureConsole();
  assert.equal(await main(["fuzz", "--target", "jpeg"], bad.io), 1);
  assert.deepEqual(bad.err, [
    'error: Cannot use --target as it must be one of idx, model, png, all: current value is "jpeg"',
  ]);
  const zero = captureConsole();
  assert.equal(await main(["fuzz", "--iterations", "0"], zero.io), 2);
  assert.match(zero.err[0], /^error: Cannot use --iterations as it must be an integer ≥ 1/);
  const help = captureConsole();
  assert.equal(await main(["fuzz", "--help"], help.io), 0);
  assert.match(help.out[0], /^Usage: deno task fuzz \[flags\]/);
  assert.match(help.out[0], /--max-old-space-size/);
});

Deno.test("fuzz runs a seeded batch from the command line and exits 0 without findings", async () => {
  const io = captureConsole();
  assert.equal(await main(["fuzz", "--iterations", "30", "--target", "model"], io.io), 0);
  assert.deepEqual(io.out.at(-1), "0 findings");
  assert.match(
    io.out[0],
    /^model: 30 inputs, \d+ refused with the project's error, \d+ valid, 0 findings$/,
  );
});
