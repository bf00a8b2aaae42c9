/**
 * The Deno binary tests start child processes with. `deno task test` grants
 * `--allow-run=deno,script`, and Deno matches `deno` against the `deno` on
 * PATH, not against `Deno.execPath()` (a symlinked or npx-installed binary has
 * another path), so children are started by that name; a run granted the
 * binary itself (`-A`, or `--allow-run` unscoped) uses `Deno.execPath()`.
 *
 * @module
 */

/** The command that starts a Deno child process. */
export const DENO: string =
  Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state === "granted"
    ? Deno.execPath()
    : "deno";
