import { Pipeline } from "./engine/runner.ts";
import { decodeDataSet, decodeStage, findDataFiles, fingerprintData } from "./stages/idx_decode.ts";
import { bundledDataDir } from "./app/bundled.ts";
const files = await findDataFiles(bundledDataDir());
let t = performance.now();
const d = await decodeDataSet(files);
for (const s of ["train", "test"] as const) for await (const _ of d.open(s)) {}
console.log("plain decode both splits", (performance.now() - t).toFixed(0), "ms");
const dir = await Deno.makeTempDir();
const p = new Pipeline({ cacheDir: dir, reporter: { log: (l) => console.log(l) } });
const src = p.source("data", await fingerprintData(files), files);
const dec = p.add(decodeStage(), src);
t = performance.now();
const { records } = await p.run([dec]);
console.log("pipeline decode", (performance.now() - t).toFixed(0), "ms", records[0].seconds);
await Deno.remove(dir, { recursive: true });
