/**
 * Provenance for a run's `config.json`: the Deno version, the git commit of the
 * working tree when there is one, the start time and the core count. The
 * commit is read from `.git` directly (HEAD, the ref file or `packed-refs`,
 * worktrees included), starting no process.
 *
 * @module
 */

/** Where and with what a run ran. */
export interface Provenance {
  /** `Deno.version.deno`. */
  deno: string;
  /** The checked-out commit (40 hex digits), or null outside a git repository. */
  gitCommit: string | null;
  /** When the run started, ISO 8601 UTC. */
  startedAt: string;
  /** Logical cores (`navigator.hardwareConcurrency`). */
  cores: number;
}

async function readText(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    return null;
  }
}

/** The git folder of the repository holding `dir` (a worktree's `.git` file points at it), or null. */
async function gitDirOf(dir: string): Promise<string | null> {
  let current = dir.replace(/\/+$/, "") || "/";
  for (;;) {
    const dotGit = `${current === "/" ? "" : current}/.git`;
    try {
      const info = await Deno.stat(dotGit);
      if (info.isDirectory) return dotGit;
      const pointer = (await readText(dotGit))?.match(/^gitdir:\s*(.+)$/m)?.[1];
      if (pointer) return pointer.startsWith("/") ? pointer : `${current}/${pointer}`;
      return null;
    } catch {
      // No .git here: look in the parent folder.
    }
    if (current === "/" || current === "") return null;
    const slash = current.lastIndexOf("/");
    current = slash <= 0 ? "/" : current.slice(0, slash);
  }
}

/** A ref's commit: its loose file in the git folder or the common one, else `packed-refs`. */
async function resolveRef(gitDir: string, ref: string): Promise<string | null> {
  const common = await readText(`${gitDir}/commondir`);
  const commonDir = common === null
    ? gitDir
    : common.startsWith("/")
    ? common
    : `${gitDir}/${common}`;
  for (const dir of [gitDir, commonDir]) {
    const loose = await readText(`${dir}/${ref}`);
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  for (const dir of [gitDir, commonDir]) {
    const packed = await readText(`${dir}/packed-refs`);
    const line = packed?.split("\n").find((l) => l.endsWith(` ${ref}`));
    if (line) return line.split(" ")[0];
  }
  return null;
}

/**
 * The commit checked out in the repository holding `dir` (a detached HEAD or
 * a branch), or null when there is no repository or it cannot be read.
 */
export async function gitCommit(dir = Deno.cwd()): Promise<string | null> {
  try {
    const gitDir = await gitDirOf(dir);
    if (!gitDir) return null;
    const head = await readText(`${gitDir}/HEAD`);
    if (!head) return null;
    if (/^[0-9a-f]{40,64}$/.test(head)) return head;
    const ref = head.match(/^ref:\s*(\S+)$/)?.[1];
    return ref ? await resolveRef(gitDir, ref) : null;
  } catch {
    return null;
  }
}

/** The provenance of a run starting at `startedAt`. */
export async function provenanceOf(startedAt: Date, dir = Deno.cwd()): Promise<Provenance> {
  return {
    deno: Deno.version.deno,
    gitCommit: await gitCommit(dir),
    startedAt: startedAt.toISOString(),
    cores: navigator.hardwareConcurrency,
  };
}
