import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { captureConsole, makeDataSet } from "../fixtures.ts";

Deno.test("gradcheck prints one ok line per activation, output and penalty setting", async () => {
  const data = await makeDataSet();
  const c = captureConsole();
  const code = await main(["gradcheck", "--data", data, "--rows", "3", "--hidden", "4"], c.io);
  assert.equal(code, 0, c.err.join("\n"));
  assert.equal(c.out.length, 16);
  for (const line of c.out) {
    const match = line.match(/relative error (\S+) {2}(ok|warning|problem)/);
    assert.ok(match, line);
    assert.equal(match[2], "ok", line);
    assert.ok(Number(match[1]) < 1e-7, line);
  }
  assert.ok(c.out.some((l) => l.startsWith("swish   sigmoid l1=0.1 l2=0.1 mean")));
});
