/**
 * The report in a real browser: builds a run report and a comparison report
 * from a tiny synthetic data set, opens each from disk in headless Chromium
 * (playwright-core), and checks that every chart drew marks, every digit image
 * decoded, and nothing went to the console as an error. Not part of `deno task
 * test` (CI has no Chromium); run it with `deno task test:browser`.
 *
 * With `REPORT_RUN=<run folder>` it also checks that run's report and saves a
 * screenshot of it to `docs/report.png` (the README's picture).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { main } from "../main.ts";
import { captureConsole, makeDataSet } from "../tests/fixtures.ts";

/** Where Debian's `chromium` package puts the browser; `CHROMIUM` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** What a page showed: its chart and image checks and any errors it logged. */
interface PageFindings {
  charts: { marks: number; width: number; height: number }[];
  images: { naturalWidth: number; complete: boolean }[];
  errors: string[];
}

/** Opens a file in a fresh page and measures its charts and images once it has loaded. */
async function inspect(
  browser: Browser,
  path: string,
): Promise<{ page: Page; found: PageFindings }> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page: ${error.message}`));
  page.on("requestfailed", (request) => errors.push(`request: ${request.url()}`));
  await page.goto(`file://${await Deno.realPath(path)}`, { waitUntil: "load" });
  // Runs in the page (a string, as Deno's type checker knows no DOM). Chart SVGs carry a
  // viewBox; the legend swatches are small SVGs without one.
  const found = await page.evaluate(`(() => {
    const charts = [...document.querySelectorAll("svg[viewBox]")].map((svg) => {
      const box = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll("path, rect, circle, line")].filter((mark) => {
        const b = mark.getBoundingClientRect();
        return b.width > 0 || b.height > 0;
      });
      return { marks: marks.length, width: box.width, height: box.height };
    });
    const images = [...document.images].map((img) => ({
      naturalWidth: img.naturalWidth,
      complete: img.complete,
    }));
    return { charts, images };
  })()`) as Omit<PageFindings, "errors">;
  return { page, found: { ...found, errors } };
}

/** The checks every report must pass in the browser. */
function assertRendered(found: PageFindings, minCharts: number, minImages: number) {
  assert.deepEqual(found.errors, []);
  assert.ok(found.charts.length >= minCharts, `${found.charts.length} charts`);
  for (const [i, chart] of found.charts.entries()) {
    assert.ok(chart.width > 0 && chart.height > 0, `chart ${i} has no size`);
    assert.ok(chart.marks > 3, `chart ${i} drew ${chart.marks} marks`);
  }
  assert.ok(found.images.length >= minImages, `${found.images.length} images`);
  for (const [i, image] of found.images.entries()) {
    assert.ok(image.complete && image.naturalWidth > 0, `image ${i} did not decode`);
  }
}

async function run(command: string, args: string[]) {
  const c = captureConsole();
  const code = await main([command, ...args], c.io);
  assert.equal(code, 0, c.err.join("\n"));
}

Deno.test("run and comparison reports render in Chromium: charts with marks, decoded digits, no errors", async () => {
  const data = await makeDataSet();
  const cache = await Deno.makeTempDir();
  const out = await Deno.makeTempDir();
  const small = ["--data", data, "--cache-dir", cache, "--epochs", "3", "--hidden", "8"];
  await run("pipeline", [...small, "--out", `${out}/run`, "--validation", "0.2"]);
  await run("compare", [...small, "--out", `${out}/cmp`, "--seeds", "1,2"]);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const runPage = await inspect(browser, `${out}/run/report.html`);
    // cost, loss, accuracy, confusion, per-class error; misclassified + 4 samples + 16 deskew.
    assertRendered(runPage.found, 5, 4 + 16);
    const comparePage = await inspect(browser, `${out}/cmp/report.html`);
    // cost, loss, accuracy, per-class error, per seed, two confusion matrices.
    assertRendered(comparePage.found, 7, 0);
    await comparePage.page.screenshot({ path: `${out}/compare.png`, fullPage: true });
    assert.ok((await Deno.stat(`${out}/compare.png`)).size > 10_000);
  } finally {
    await browser.close();
  }
});

const screenshotRun = Deno.env.get("REPORT_RUN");

Deno.test({
  name: "the REPORT_RUN report renders in Chromium and is saved as docs/report.png",
  ignore: screenshotRun === undefined,
  async fn() {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const { page, found } = await inspect(browser, `${screenshotRun}/report.html`);
      assertRendered(found, 5, 10);
      await Deno.mkdir("docs", { recursive: true });
      // The top of the page: headline, training curves, test set; the digits follow below.
      await page.screenshot({
        path: "docs/report.png",
        fullPage: true,
        clip: { x: 0, y: 0, width: 1300, height: 2000 },
      });
    } finally {
      await browser.close();
    }
  },
});
