/**
 * How a failure of the operating system (a full disk, a folder that is not
 * writable, a path that is a file, an I/O error) or of Deno's permissions
 * reaches the user: one `error:` line naming the path, the rule it broke, and
 * what to do about it, never a stack trace. `main.ts` prints it.
 *
 * @module
 */
import { accessError, missingFromNotCapable } from "./permissions.ts";

/** What an OS error code means for the user: the rule the path broke, and the hint. */
interface Advice {
  rule: string;
  hint: string;
}

const PICK_ANOTHER = "or pick another --cache-dir/--out";

/** Advice by error code (`ENOSPC`) or, for Deno's error classes, by class name (`NotFound`). */
const ADVICE: Record<string, Advice> = {
  ENOSPC: {
    rule: "the disk must have free space",
    hint: "free space (deno task cache prune --max-size 2GB trims the stage cache), " +
      PICK_ANOTHER,
  },
  EDQUOT: { rule: "the disk quota must have room", hint: `free space, ${PICK_ANOTHER}` },
  EACCES: {
    rule: "the folder must allow this user to do that",
    hint: `check the folder's permissions (ls -ld), ${PICK_ANOTHER}`,
  },
  EPERM: {
    rule: "the folder must allow this user to do that",
    hint: `check the folder's permissions and attributes (ls -ld, lsattr), ${PICK_ANOTHER}`,
  },
  EROFS: { rule: "the file system must be writable", hint: `mount it read-write, ${PICK_ANOTHER}` },
  EIO: {
    rule: "the disk must read and write without errors",
    hint: `check the disk (dmesg, fsck), ${PICK_ANOTHER}`,
  },
  EINVAL: {
    rule: "the path must suit the operation",
    hint: "check the path (a folder cannot move into itself; some file systems refuse names)",
  },
  ENOTDIR: {
    rule: "every folder along the path must be a folder",
    hint: "a file stands where a folder should: remove it, or pick another path",
  },
  EISDIR: {
    rule: "the path must be a file",
    hint: "a folder stands where a file should: pick another path",
  },
  ENOENT: { rule: "the path must exist", hint: "check the path and its spelling" },
  EEXIST: { rule: "the path must be free", hint: "remove what is there, or pick another path" },
  EBUSY: { rule: "no other program may hold the path", hint: "retry once it is released" },
  ELOOP: { rule: "symbolic links must not loop", hint: "fix the links along the path" },
  ENAMETOOLONG: { rule: "the path must be short enough", hint: "pick a shorter path" },
  EMFILE: { rule: "the process must be able to open a file", hint: "raise ulimit -n" },
  ENFILE: { rule: "the system must be able to open a file", hint: "close other programs" },
};

/** Deno's error classes, by the code they stand for. */
const CLASS_CODES: Record<string, string> = {
  NotFound: "ENOENT",
  PermissionDenied: "EACCES",
  AlreadyExists: "EEXIST",
  NotADirectory: "ENOTDIR",
  IsADirectory: "EISDIR",
  Busy: "EBUSY",
  FilesystemLoop: "ELOOP",
};

/** The verb for Deno's operation name in its messages (`writefile '/x'`). */
const VERBS: Record<string, string> = {
  open: "open",
  writefile: "write",
  write: "write",
  readfile: "read",
  read: "read",
  mkdir: "create the folder",
  rename: "move",
  remove: "remove",
  stat: "read",
  lstat: "read",
  readdir: "list",
  realpath: "resolve",
  copy: "copy",
  truncate: "truncate",
  utime: "update",
  chmod: "change",
  fsync: "flush",
  symlink: "link",
  link: "link",
};

/** True for an error the operating system raised: one of `Deno.errors`, or one with an errno code. */
export function isSystemError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if (Object.values(Deno.errors).some((kind) => error instanceof kind)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code);
}

/**
 * The `error:` line for a system error (see {@linkcode isSystemError}) that
 * `command` ran into: the path from Deno's message, the rule, and a hint for
 * its kind; for `NotCapable`, the permission to add and a `deno run` line
 * with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const full = Object.assign(
 *   new Error("No space left on device (os error 28): writefile '/data/x'"),
 *   { code: "ENOSPC" },
 * );
 * assert.equal(
 *   describeSystemError(full, "pipeline", []),
 *   'error: Cannot write "/data/x" as the disk must have free space: No space left on ' +
 *     "device (os error 28). Hint: free space (deno task cache prune --max-size 2GB trims " +
 *     "the stage cache), or pick another --cache-dir/--out",
 * );
 * ```
 */
export function describeSystemError(
  error: Error,
  command: string,
  args: readonly string[],
): string {
  if (error instanceof Deno.errors.NotCapable) {
    const missing = missingFromNotCapable(error.message);
    if (missing) return `error: ${accessError(command, args, [missing]).message}`;
  }
  const code = String((error as { code?: unknown }).code ?? CLASS_CODES[error.name] ?? "");
  const advice = ADVICE[code] ??
    { rule: "the operating system must allow it", hint: "check the path and the disk" };
  // Deno's shape: "No space left on device (os error 28): writefile '/x'" ("… -> '/y'" for rename).
  const match = /^(.*?): (\w+) '(.*?)'(?: -> '(.*?)')?$/.exec(error.message);
  const reason = match ? match[1] : error.message;
  const action = match
    ? `${VERBS[match[2]] ?? match[2]} "${match[3]}"${match[4] ? ` to "${match[4]}"` : ""}`
    : "finish a file operation";
  return `error: Cannot ${action} as ${advice.rule}: ${reason}. Hint: ${advice.hint}`;
}
