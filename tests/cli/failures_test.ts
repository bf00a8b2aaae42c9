import assert from "node:assert/strict";
import { main } from "../../main.ts";
import type { Command } from "../../cli/io.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

/** Runs `main` with one extra command, `stub`, that throws `error`. */
async function stubbed(error: Error, args: string[] = []) {
  const c = captureConsole();
  const stub: Command = () => Promise.reject(error);
  const code = await main(["stub", ...args], c.io, { stub });
  return { code, ...c };
}

/** An error as Deno raises it for an errno it has no class for (ENOSPC, EIO: a plain Error). */
function osError(kind: ErrorConstructor | TypeErrorConstructor, code: string, message: string) {
  return Object.assign(new kind(message), { code });
}

Deno.test("each kind of OS error reaches the user as one error line with the path and a hint", async () => {
  const table: [Error, string][] = [
    [
      osError(
        Error,
        "ENOSPC",
        "No space left on device (os error 28): writefile '/data/run/x.bin'",
      ),
      'error: Cannot write "/data/run/x.bin" as the disk must have free space: No space left on ' +
      "device (os error 28). Hint: free space (deno task cache prune --max-size 2GB trims the " +
      "stage cache), or pick another --cache-dir/--out",
    ],
    [
      osError(Error, "EIO", "Input/output error (os error 5): readfile '/mnt/usb/t10k'"),
      'error: Cannot read "/mnt/usb/t10k" as the disk must read and write without errors: ' +
      "Input/output error (os error 5). Hint: check the disk (dmesg, fsck), or pick another " +
      "--cache-dir/--out",
    ],
    [
      osError(TypeError, "EINVAL", "Invalid argument (os error 22): rename 'runs/a' -> 'runs/a/b'"),
      'error: Cannot move "runs/a" to "runs/a/b" as the path must suit the operation: Invalid ' +
      "argument (os error 22). Hint: check the path (a folder cannot move into itself; some file " +
      "systems refuse names)",
    ],
    [
      Object.assign(
        new Deno.errors.PermissionDenied(
          "Permission denied (os error 13): mkdir '/srv/cache/decode'",
        ),
        { code: "EACCES" },
      ),
      'error: Cannot create the folder "/srv/cache/decode" as the folder must allow this user to ' +
      "do that: Permission denied (os error 13). Hint: check the folder's permissions (ls -ld), " +
      "or pick another --cache-dir/--out",
    ],
    [
      // Deno's class alone, without a code, still gets its kind's advice.
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/srv/x'"),
      'error: Cannot open "/srv/x" as the folder must allow this user to do that: Permission ' +
      "denied (os error 13). Hint: check the folder's permissions (ls -ld), or pick another " +
      "--cache-dir/--out",
    ],
    [
      osError(Error, "EROFS", "Read-only file system (os error 30): open '/media/cd/x'"),
      'error: Cannot open "/media/cd/x" as the file system must be writable: Read-only file ' +
      "system (os error 30). Hint: mount it read-write, or pick another --cache-dir/--out",
    ],
    [
      osError(Error, "EWHATEVER", "Something odd (os error 99)"),
      "error: Cannot finish a file operation as the operating system must allow it: Something " +
      "odd (os error 99). Hint: check the path and the disk",
    ],
  ];
  for (const [error, line] of table) {
    const result = await stubbed(error);
    assert.equal(result.code, 1, line);
    assert.deepEqual(result.err, [line]);
    assert.deepEqual(result.out, []);
  }
});

Deno.test("a NotCapable error names the permission to add and a deno run line with it", async () => {
  const result = await stubbed(
    new Deno.errors.NotCapable(
      'Requires write access to "/srv/runs", run again with the --allow-write flag',
    ),
    ["--out", "/srv/runs/a b"],
  );
  assert.equal(result.code, 1);
  assert.deepEqual(result.err, [
    'error: Cannot write "/srv/runs" as the process must be allowed to: the process was started ' +
    "without that permission. Hint: add it to the task's flags in deno.json, or run deno run " +
    "--allow-write=/srv/runs main.ts stub --out '/srv/runs/a b'",
  ]);
  const net = await stubbed(
    new Deno.errors.NotCapable('Requires net access to "example.com:443", run again with …'),
  );
  assert.ok(net.err[0].startsWith('error: Cannot use net access to "example.com:443" as'));
  assert.ok(net.err[0].endsWith("run deno run --allow-net=example.com:443 main.ts stub"));
});

Deno.test("an error of the project's own is not mistaken for an OS error, and a bug still throws", async () => {
  await assert.rejects(() => stubbed(new RangeError("a bug")), RangeError);
  await assert.rejects(
    () => stubbed(Object.assign(new Error("not an errno"), { code: "ERR_SOMETHING" })),
    /not an errno/,
  );
});

Deno.test("a registry path that is a file fails with one line naming it (ENOTDIR, EEXIST)", async () => {
  const file = `${await tempDir()}/registry`;
  await Deno.writeTextFile(file, "not a folder");
  const list = captureConsole();
  assert.equal(await main(["models", "--registry", file], list.io), 1);
  assert.deepEqual(list.err, [
    `error: Cannot list "${file}/versions" as every folder along the path must be a folder: ` +
    "Not a directory (os error 20). Hint: a file stands where a folder should: remove it, or " +
    "pick another path",
  ]);
  const data = await makeDataSet();
  const retrain = captureConsole();
  const code = await main(
    ["retrain", "--data", data, "--registry", file, "--cache-dir", await tempDir()],
    retrain.io,
  );
  assert.equal(code, 1);
  assert.deepEqual(retrain.err, [
    `error: Cannot create the folder "${file}" as the path must be free: File exists (os error ` +
    "17). Hint: remove what is there, or pick another path",
  ]);
  assert.equal(await Deno.readTextFile(file), "not a folder");
});

Deno.test("--out with a trailing slash writes the run folder (it failed after training with a TypeError)", async () => {
  const data = await makeDataSet();
  const dir = await tempDir();
  for (const out of [`${dir}/run/`, `${dir}/run//`]) {
    const c = captureConsole();
    const code = await main(
      ["pipeline", "--data", data, "--cache-dir", `${dir}/cache`, "--out", out, ...QUICK_TRAINING],
      c.io,
    );
    assert.equal(code, 0, c.err.join("\n"));
    assert.ok(c.out.includes(`run folder     ${dir}/run`), c.out.join("\n"));
  }
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
    "cache",
    "run",
  ]);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${dir}/run`))).map((e) => e.name).sort(),
    ["config.json", "metrics.json", "model.mnpm", "report.html"],
  );
});

Deno.test("an empty or root --cache-dir, --out or --data is refused before anything runs (it wrote to /decode/)", async () => {
  const data = await makeDataSet();
  for (
    const [flag, value] of [["cache-dir", ""], ["cache-dir", "/"], ["out", ""], ["out", "//"], [
      "data",
      " ",
    ]]
  ) {
    const c = captureConsole();
    const args = ["pipeline", "--data", data, ...QUICK_TRAINING, `--${flag}`, value];
    assert.equal(await main(args, c.io), 2, `--${flag} "${value}"`);
    assert.deepEqual(c.err, [
      `error: Cannot use --${flag} as it must be a non-empty path other than the file system's ` +
      `root: current value is "${value}". Hint: --${flag} DIR`,
    ]);
  }
});
