import assert from "node:assert/strict";
import { closest, editDistance, flagsInHelp, mainHelp, NAME, VERSION } from "../../cli/usage.ts";

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("deskew", "deskwe"), 2);
});

Deno.test("closest() suggests only near misses, never a distant word", () => {
  assert.equal(closest("epoch", ["epochs", "eta"]), "epochs");
  assert.equal(closest("hiden", ["hidden", "seed"]), "hidden");
  assert.equal(closest("x", ["threads", "memory"]), null);
  assert.equal(closest("anything", []), null);
});

Deno.test("flagsInHelp() lists every documented long flag once", () => {
  const help = "  --epochs N   epochs\n  --no-deskew  off\n  --epochs again, --batch-size N";
  assert.deepEqual(flagsInHelp(help), ["epochs", "no-deskew", "batch-size"]);
});

Deno.test("mainHelp() names the product and version and aligns one line per command", () => {
  const text = mainHelp([{ name: "pipeline", summary: "train" }, {
    name: "make-data",
    summary: "make",
  }]);
  assert.ok(text.startsWith(`${NAME} ${VERSION}: `));
  assert.equal(NAME, "mnist-pipeline");
  const lines = text.split("\n");
  assert.ok(lines.includes("  pipeline   train"), text);
  assert.ok(lines.includes("  make-data  make"), text);
});
