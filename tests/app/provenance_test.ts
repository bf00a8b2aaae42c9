import assert from "node:assert/strict";
import { gitCommit, provenanceOf } from "../../app/provenance.ts";
import { tempDir } from "../fixtures.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);

Deno.test("gitCommit() reads a branch's loose ref, from a subfolder of the repository", async () => {
  const repo = await tempDir();
  await Deno.mkdir(`${repo}/.git/refs/heads`, { recursive: true });
  await Deno.mkdir(`${repo}/src/deep`, { recursive: true });
  await Deno.writeTextFile(`${repo}/.git/HEAD`, "ref: refs/heads/main\n");
  await Deno.writeTextFile(`${repo}/.git/refs/heads/main`, `${A}\n`);
  assert.equal(await gitCommit(`${repo}/src/deep`), A);
});

Deno.test("gitCommit() follows a worktree's .git file to packed refs in the common folder", async () => {
  const root = await tempDir();
  await Deno.mkdir(`${root}/main/.git/worktrees/wt`, { recursive: true });
  await Deno.mkdir(`${root}/wt`);
  await Deno.writeTextFile(`${root}/wt/.git`, `gitdir: ${root}/main/.git/worktrees/wt\n`);
  await Deno.writeTextFile(`${root}/main/.git/worktrees/wt/HEAD`, "ref: refs/heads/feature\n");
  await Deno.writeTextFile(`${root}/main/.git/worktrees/wt/commondir`, "../..\n");
  await Deno.writeTextFile(
    `${root}/main/.git/packed-refs`,
    `# pack-refs with: peeled fully-peeled sorted\n${A} refs/heads/main\n${B} refs/heads/feature\n`,
  );
  assert.equal(await gitCommit(`${root}/wt`), B);
});

Deno.test("gitCommit() reads a detached HEAD, and is null outside a repository or for a missing ref", async () => {
  const repo = await tempDir();
  await Deno.mkdir(`${repo}/.git`);
  await Deno.writeTextFile(`${repo}/.git/HEAD`, `${B}\n`);
  assert.equal(await gitCommit(repo), B);
  await Deno.writeTextFile(`${repo}/.git/HEAD`, "ref: refs/heads/unborn\n");
  assert.equal(await gitCommit(repo), null);
  // A temp folder has no repository above it.
  assert.equal(await gitCommit(await tempDir()), null);
});

Deno.test("provenanceOf() records Deno's version, the start time and the cores", async () => {
  const started = new Date("2026-01-02T03:04:05.000Z");
  const p = await provenanceOf(started, await tempDir());
  assert.deepEqual(p, {
    deno: Deno.version.deno,
    gitCommit: null,
    startedAt: "2026-01-02T03:04:05.000Z",
    cores: navigator.hardwareConcurrency,
  });
});
