/**
 * `deno task fuzz`: feeds mutated IDX files, model files and PNGs to their
 * readers and reports every input that ends in anything but a valid result or
 * the project's own error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { numberFlag } from "../app/config.ts";
import { describeInput, type Finding, FUZZ_TARGETS, runFuzz } from "../app/fuzz.ts";
import { ConfigError } from "../engine/errors.ts";
import { type Console, EXIT_CODES_HELP, noPositionals } from "./io.ts";
import { permissionsHelp } from "./permissions.ts";

/** The help text of `fuzz`. */
export const FUZZ_HELP = `Usage: deno task fuzz [flags]

Mutates valid inputs (bit flips, byte insertions and deletions, truncation at every header
boundary, huge and zero declared sizes, wrong type codes and magic, corrupted and cut gzip
streams, PNG chunks dropped, repeated or inflating too far) and feeds each to its reader:
  idx    the IDX decoder (raw and gzip files, as labels and as images)
  model  the model loader, then a forward pass as predict does
  png    the PNG reader, then the digit preparation predict does
Each input must end in a valid result or the project's own error. Anything else is a finding:
another exception, an input that runs past --timeout, memory past --memory, or a crash. Each
finding prints the target, the input's number and mutation, and a hex prefix of the input;
exit code 1 when there are any.

The inputs run in a child Deno process started with --v8-flags=--max-old-space-size=MEMORY; a
watchdog thread in it polls the process's resident memory (typed arrays included) every 10 ms.
The supervisor kills the child when an input passes --timeout or the watchdog reports memory
over --memory, records a crash when it dies, and restarts it at the next input. Input i of a
target comes from its own seeded random source: the same --seed gives the same inputs.

  --iterations N   inputs per target (default 1000)
  --target T       idx, model, png or all (default all)
  --seed N         seed of every random choice (default 1)
  --timeout S      time bound of one input in seconds (default 2)
  --memory MB      memory bound of the child process in MiB (default 512)
  --out DIR        save each finding's input as DIR/<target>-<iteration>.bin, with findings.json
  --help           this text

${permissionsHelp("fuzz")}
${EXIT_CODES_HELP}`;

/** The flags of `fuzz`. */
export const FUZZ_OPTIONS = {
  iterations: { type: "string", default: "1000" },
  target: { type: "string", default: "all" },
  seed: { type: "string", default: "1" },
  timeout: { type: "string", default: "2" },
  memory: { type: "string", default: "512" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The lines that report one finding. */
export function findingLines(finding: Finding): string[] {
  return [
    `finding: ${finding.target} #${finding.iteration} ${finding.kind}: ${finding.message}`,
    `  mutation: ${finding.mutation}`,
    `  input: ${describeInput(finding.input)}`,
    ...(finding.saved ? [`  saved: ${finding.saved}`] : []),
  ];
}

/** Runs `fuzz`. */
export async function fuzzCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: FUZZ_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(FUZZ_HELP);
    return 0;
  }
  if (!noPositionals("fuzz", positionals, io)) return 2;
  const target = values.target;
  if (target !== "all" && !(FUZZ_TARGETS as readonly string[]).includes(target)) {
    throw new ConfigError(
      `Cannot use --target as it must be one of ${FUZZ_TARGETS.join(", ")}, all: ` +
        `current value is "${target}"`,
    );
  }
  const iterations = numberFlag("iterations", values.iterations, { integer: true, min: 1 });
  const report = await runFuzz({
    iterations,
    targets: target === "all" ? FUZZ_TARGETS : [target],
    seed: numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    timeoutMs: 1000 * numberFlag("timeout", values.timeout, { above: 0 }),
    memoryMb: numberFlag("memory", values.memory, { integer: true, min: 128 }),
    out: values.out,
    onFinding: (finding) => findingLines(finding).forEach((line) => io.out(line)),
    onProgress: (name, done) => {
      if (done % 1000 === 0 && done < iterations) io.err(`fuzz ${name}: ${done}/${iterations}`);
    },
  });
  for (const [name, tried] of Object.entries(report.tried)) {
    const refused = report.refused[name];
    const found = report.findings.filter((f) => f.target === name).length;
    io.out(
      `${name}: ${tried} inputs, ${refused} refused with the project's error, ` +
        `${tried - refused - found} valid, ${found} findings`,
    );
  }
  io.out(`${report.findings.length} findings`);
  return report.findings.length > 0 ? 1 : 0;
}
