import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { main } from "../../main.ts";
import { digitPng, toGrey, weightPng } from "../../report/digits.ts";
import { confusedPairs } from "../../report/html.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

const SMALL = ["--epochs", "2", "--hidden", "4", "--batch-size", "16"];

async function pipeline(args: string[]) {
  const c = captureConsole();
  const code = await main(["pipeline", ...args], c.io);
  assert.equal(code, 0, c.err.join("\n"));
}

/** The `<img>` tags of a page with their data URIs and captions. */
function digitsOf(html: string): { src: string; caption: string }[] {
  return [...html.matchAll(/<div class="digit"><img src="([^"]+)"[^>]*>([^<]*)<\/div>/g)].map((
    m,
  ) => ({
    src: m[1],
    caption: m[2],
  }));
}

Deno.test("every run folder gets a self-contained report with charts, digits, stages and config", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const out = await tempDir();
  await pipeline(["--data", data, "--cache-dir", cache, "--out", `${out}/a`, ...SMALL]);
  const html = await Deno.readTextFile(`${out}/a/report.html`);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/a/metrics.json`));
  // Nothing to fetch: no scripts, stylesheets or remote sources.
  assert.doesNotMatch(html, /<script|<link|src="http|href="http|url\(/);
  // Cost, loss, accuracy, confusion matrix, per-class error.
  assert.equal((html.match(/<svg/g) ?? []).length, 5);
  assert.match(html, /cost per minibatch/);
  assert.match(html, /confusion matrix/);
  const digits = digitsOf(html);
  assert.ok(digits.every((d) => d.src.startsWith("data:image/png;base64,")));
  const wrong = metrics.misclassified.slice(0, 25);
  const titled = digits.filter((d) => d.caption.startsWith("t: "));
  assert.equal(titled.length, wrong.length);
  titled.forEach((d, i) => {
    const { label, predicted } = wrong[i];
    const match = d.caption.match(/^t: (\d) p: (\d) (\d+)%\n2nd: (\d) (\d+)%$/);
    assert.ok(match, d.caption);
    assert.deepEqual([Number(match[1]), Number(match[2])], [label, predicted]);
    assert.notEqual(Number(match[4]), predicted, "the runner-up is another class");
    assert.ok(Number(match[3]) >= Number(match[5]), "the runner-up is less probable");
  });
  // Four hidden units: all four drawn as red-blue heat maps of the input's shape.
  const units = digits.filter((d) => d.caption.startsWith("unit "));
  assert.deepEqual(units.map((d) => d.caption), ["unit 0", "unit 1", "unit 2", "unit 3"]);
  const heat = PNG.sync.read(Buffer.from(units[0].src.split(",")[1], "base64"));
  assert.deepEqual([heat.width, heat.height], [10, 10]);
  assert.match(html, /first layer: the input weights of units 0–3/);
  assert.match(html, /most confused pairs/);
  const config = JSON.parse(await Deno.readTextFile(`${out}/a/config.json`));
  assert.equal(config.provenance.deno, Deno.version.deno);
  assert.equal(config.provenance.cores, navigator.hardwareConcurrency);
  assert.ok(Date.now() - Date.parse(config.provenance.startedAt) < 60_000);
  assert.ok(
    config.provenance.gitCommit === null || /^[0-9a-f]{40}$/.test(config.provenance.gitCommit),
  );
  assert.deepEqual(digits.filter((d) => /^\d$/.test(d.caption)).map((d) => d.caption), [
    "0",
    "1",
    "2",
    "3",
  ]);
  assert.equal(digits.filter((d) => d.caption === "before").length, 8);
  assert.equal(digits.filter((d) => d.caption === "after").length, 8);
  assert.match(html, new RegExp(`${(100 * metrics.testAccuracy).toFixed(2)}%`));
  assert.match(html, /<td>deskew<\/td><td>ran<\/td>/);
  assert.match(html, /<td>hidden<\/td><td>\[4\]<\/td>/);

  // Fully cached, the report rebuilds the same digits from the data files.
  await pipeline(["--data", data, "--cache-dir", cache, "--out", `${out}/b`, ...SMALL]);
  const cached = await Deno.readTextFile(`${out}/b/report.html`);
  assert.match(cached, /<td>train<\/td><td>cached<\/td>/);
  assert.deepEqual(digitsOf(cached), digits);
});

Deno.test("a run without deskew has no before/after row", async () => {
  const data = await makeDataSet();
  const out = await tempDir();
  await pipeline([
    "--data",
    data,
    "--cache-dir",
    await tempDir(),
    "--out",
    `${out}/a`,
    "--no-deskew",
    ...SMALL,
  ]);
  const html = await Deno.readTextFile(`${out}/a/report.html`);
  assert.doesNotMatch(html, /before and after deskew/);
  assert.equal(digitsOf(html).filter((d) => d.caption === "before").length, 0);
  assert.doesNotMatch(html, /augmentation: the first training digits/);
});

Deno.test("an augmented run shows its training digits beside their augmented copies", async () => {
  const data = await makeDataSet();
  const out = await tempDir();
  const args = ["--data", data, "--cache-dir", await tempDir(), ...SMALL, "--augment", "both"];
  await pipeline([...args, "--dropout", "0.2", "--out", `${out}/a`]);
  const html = await Deno.readTextFile(`${out}/a/report.html`);
  assert.match(html, /augmentation: the first training digits \(top\) as epoch 1 trained on them/);
  const augmented = digitsOf(html).filter((d) => d.caption === "augmented");
  assert.equal(augmented.length, 10);
  const config = JSON.parse(await Deno.readTextFile(`${out}/a/config.json`));
  assert.equal(config.augment.kind, "both");
  assert.equal(config.dropout, 0.2);
});

Deno.test("digitPng() draws ink dark on white, scaled to the image's own range", () => {
  const image = new Float32Array([-1, 0, 1, 3, 3, -1]);
  const png = PNG.sync.read(Buffer.from(digitPng(image, 2, 3)));
  assert.equal(png.width, 3);
  assert.equal(png.height, 2);
  const red = Array.from({ length: 6 }, (_, i) => png.data[4 * i]);
  assert.deepEqual(red, [255, 191, 127, 0, 0, 255]);
  assert.deepEqual([...toGrey(new Float32Array([2, 2]))], [0, 0]);
  assert.throws(() => digitPng(image, 2, 2), {
    message: "Cannot draw a digit as it must hold rows·cols = 4 pixels: it holds 6",
  });
});

Deno.test("confusedPairs() lists the largest off-diagonal cells with their share of the true class", () => {
  const matrix = [[8, 2, 0], [0, 9, 1], [5, 0, 5]];
  assert.deepEqual(confusedPairs(matrix, 10), [
    { label: 2, predicted: 0, count: 5, share: 0.5 },
    { label: 0, predicted: 1, count: 2, share: 0.2 },
    { label: 1, predicted: 2, count: 1, share: 0.1 },
  ]);
  assert.deepEqual(confusedPairs([[3, 0], [0, 4]], 10), []);
  assert.deepEqual(confusedPairs([], 10), []);
});

Deno.test("weightPng() draws positive weights red, negative blue, and 0 white, scaled by the largest", () => {
  const png = PNG.sync.read(Buffer.from(weightPng(new Float32Array([2, -2, 0, 1]), 2, 2)));
  const rgb = (i: number) => [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
  assert.deepEqual(rgb(0), [255, 0, 0]);
  assert.deepEqual(rgb(1), [0, 0, 255]);
  assert.deepEqual(rgb(2), [255, 255, 255]);
  assert.deepEqual(rgb(3), [255, 128, 128]);
  assert.deepEqual(
    [...PNG.sync.read(Buffer.from(weightPng(new Float32Array(4), 2, 2))).data.subarray(0, 3)],
    [255, 255, 255],
  );
  assert.throws(() => weightPng(new Float32Array(3), 2, 2), {
    message: "Cannot draw weights as they must hold rows·cols = 4 values: they hold 3",
  });
});
