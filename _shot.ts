import { chromium } from "playwright-core";
const [file, png] = Deno.args;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
page.on("console", (m) => console.log("console", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror", e.message));
await page.goto(`file://${file}`);
await page.screenshot({ path: png, fullPage: true });
await browser.close();
