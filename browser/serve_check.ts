/**
 * The draw-a-digit page in a real browser: serves a model trained for one
 * epoch on the bundled MNIST (or `SERVE_MODEL`, a run folder, model file or
 * registry) from a temporary registry, opens `/` in headless Chromium
 * (playwright-core), draws a 7 with mouse events, and checks that the
 * prediction and the probability bars appear, that the model line names the
 * champion, that Clear clears, and that nothing went to the console as an
 * error. Saves a screenshot to `docs/serve.png`. Not part of `deno task test`
 * (CI has no Chromium); run it with `deno task test:browser`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { resolveModelPath } from "../app/predict.ts";
import { startServer } from "../app/serve.ts";
import { MODEL_FILE } from "../engine/run_folder.ts";
import { main } from "../main.ts";
import { installVersion, versionId, writeCurrent } from "../registry/registry.ts";
import { captureConsole, tempDir } from "../tests/fixtures.ts";

/** Where Debian's `chromium` package puts the browser; `CHROMIUM` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** A registry whose champion v0001 is `SERVE_MODEL`, or a model trained now for one epoch. */
async function registryWithModel(): Promise<string> {
  const work = await tempDir({ prefix: "mnp-serve-check-" });
  const run = `${work}/run`;
  const given = Deno.env.get("SERVE_MODEL");
  if (given) {
    await Deno.mkdir(run);
    const file = await resolveModelPath(given);
    await Deno.copyFile(file, `${run}/${MODEL_FILE}`);
    // Its run's metrics (test accuracy), when the model file sits in a run folder.
    const metrics = `${file.slice(0, file.lastIndexOf("/") + 1) || "./"}metrics.json`;
    await Deno.copyFile(metrics, `${run}/metrics.json`).catch(() => {});
  } else {
    const c = captureConsole();
    const args = ["pipeline", "--epochs", "1", "--hidden", "100", "--optimizer", "adam"];
    args.push("--eta", "0.001", "--batch-size", "64", "--out", run, "--cache-dir", `${work}/c`);
    assert.equal(await main(args, c.io), 0, c.err.join("\n"));
  }
  const { testAccuracy = 0 } = JSON.parse(
    await Deno.readTextFile(`${run}/metrics.json`).catch(() => "{}"),
  );
  const registry = `${work}/models`;
  await Deno.mkdir(registry);
  await installVersion(registry, run, {
    id: versionId(1),
    createdAt: new Date().toISOString(),
    dataFingerprint: "check",
    configHash: "check",
    testAccuracy,
    testSetFingerprint: "check",
    dataSet: "mnist",
  });
  await writeCurrent(registry, "v0001");
  return registry;
}

Deno.test("the draw-a-digit page predicts a stroke drawn with the mouse: answer, bars, model line, clear, no errors", async () => {
  const server = await startServer({ model: await registryWithModel(), port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 760, height: 520 } });
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`page: ${error.message}`));
    page.on("requestfailed", (request) => errors.push(`request: ${request.url()}`));
    await page.goto(server.url, { waitUntil: "load" });
    await page.waitForFunction(`document.getElementById("model").textContent.includes("v0001")`);
    assert.equal(await page.locator(".track").count(), 10);

    // A 7: the top bar left to right, then the slanted stroke down to the bottom left.
    const box = (await page.locator("#pad").boundingBox())!;
    const at = (x: number, y: number) => [box.x + x, box.y + y] as const;
    await page.mouse.move(...at(70, 60));
    await page.mouse.down();
    await page.mouse.move(...at(210, 60), { steps: 12 });
    await page.mouse.move(...at(130, 235), { steps: 16 });
    await page.mouse.up();
    await page.waitForFunction(`document.getElementById("answer").textContent !== ""`);
    // The last answer may still be on its way; wait for the page to settle.
    await page.waitForTimeout(300);
    const shown = await page.evaluate(`(() => ({
      answer: document.getElementById("answer").textContent,
      model: document.getElementById("model").textContent,
      status: document.getElementById("status").textContent,
      widths: [...document.querySelectorAll(".fill")].map((f) => parseFloat(f.style.width)),
      top: [...document.querySelectorAll(".track")].findIndex((t) => t.classList.contains("top")),
    }))()`) as {
      answer: string;
      model: string;
      status: string;
      widths: number[];
      top: number;
    };
    assert.equal(shown.status, "");
    assert.match(shown.model, /^model v0001 · test accuracy \d+\.\d\d%$/);
    const total = shown.widths.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 100) < 1, `bars sum to ${total}%`);
    assert.equal(Number(shown.answer), shown.top, "the answer is the longest bar");
    assert.equal(shown.widths.indexOf(Math.max(...shown.widths)), shown.top);
    console.log(`drew a 7; the page answered ${shown.answer} (${shown.widths[shown.top]}%)`);
    await Deno.mkdir("docs", { recursive: true });
    await page.screenshot({ path: "docs/serve.png" });

    await page.click("#clear");
    assert.equal(await page.locator("#answer").textContent(), "");
    assert.deepEqual(errors, []);
    assert.ok(server.stats().images > 0);
  } finally {
    await browser.close();
    await server.close();
  }
});
