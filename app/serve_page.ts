/**
 * The draw-a-digit page `GET /` serves: a canvas to draw on with a mouse, pen
 * or finger, live probability bars (the canvas goes to `POST /predict` as a
 * PNG while you draw, so the server crops, fits and centres it as predict
 * does), a clear button, and the champion's version and test accuracy, which
 * follow a swap. Self-contained: inline CSS and JS, no network but its own server.
 *
 * @module
 */

/** The page's HTML. */
export const SERVE_PAGE: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mnist-pipeline · draw a digit</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f4f6f9; }
  body { margin: 0; display: flex; justify-content: center; }
  main { padding: 24px; max-width: 720px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  #model { color: #5a6578; margin: 0 0 16px; font-size: 0.95rem; }
  .row { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
  canvas { background: #fff; border: 2px solid #c9d1dd; border-radius: 8px; touch-action: none;
    cursor: crosshair; width: 280px; height: 280px; }
  button { margin-top: 10px; font: inherit; padding: 6px 18px; border-radius: 6px;
    border: 1px solid #9aa6b8; background: #fff; cursor: pointer; }
  #answer { font-size: 3.2rem; font-weight: 700; margin: 0 0 8px; min-height: 1.2em; }
  #bars { display: grid; grid-template-columns: 1.2em 200px 3.6em; gap: 4px 8px;
    align-items: center; font-variant-numeric: tabular-nums; }
  .track { background: #e3e8ef; border-radius: 3px; height: 16px; overflow: hidden; }
  .fill { background: #3b7ddd; height: 100%; width: 0; transition: width 80ms linear; }
  .top .fill { background: #e0662a; }
  .pct { text-align: right; color: #5a6578; font-size: 0.85rem; }
  #status { color: #b23b3b; min-height: 1.2em; font-size: 0.9rem; }
</style>
</head>
<body>
<main>
  <h1>Draw a digit</h1>
  <p id="model">loading the model…</p>
  <div class="row">
    <div>
      <canvas id="pad" width="280" height="280" aria-label="drawing pad"></canvas><br>
      <button id="clear" type="button">Clear</button>
    </div>
    <div>
      <p id="answer" aria-live="polite"></p>
      <div id="bars"></div>
    </div>
  </div>
  <p id="status"></p>
</main>
<script>
"use strict";
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const bars = document.getElementById("bars");
const answer = document.getElementById("answer");
const modelLine = document.getElementById("model");
const status = document.getElementById("status");
let classes = 10, drawing = false, last = null, inFlight = false, dirty = false, inked = false;

function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  inked = false;
}
function showModel(m) {
  const acc = m.testAccuracy == null ? "unknown" : (100 * m.testAccuracy).toFixed(2) + "%";
  modelLine.textContent = "model " + m.version + " · test accuracy " + acc;
}
function makeBars() {
  bars.textContent = "";
  for (let k = 0; k < classes; k++) {
    const label = document.createElement("span");
    label.textContent = k;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    track.appendChild(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    bars.append(label, track, pct);
  }
}
function showBars(p) {
  const best = p.indexOf(Math.max(...p));
  const tracks = bars.querySelectorAll(".track");
  const pcts = bars.querySelectorAll(".pct");
  p.forEach((v, k) => {
    tracks[k].firstChild.style.width = (100 * v).toFixed(1) + "%";
    tracks[k].classList.toggle("top", k === best);
    pcts[k].textContent = (100 * v).toFixed(1) + "%";
  });
}
function resetBars() {
  answer.textContent = "";
  showBars(new Array(classes).fill(0));
  bars.querySelectorAll(".track").forEach((t) => t.classList.remove("top"));
}
async function send() {
  if (inFlight) { dirty = true; return; }
  if (!inked) return;
  inFlight = true;
  dirty = false;
  try {
    const png = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const response = await fetch("/predict", {
      method: "POST", headers: { "content-type": "image/png" }, body: png,
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    if (inked) {
      answer.textContent = body.class;
      showBars(body.probabilities);
      showModel(body.model);
    }
    status.textContent = "";
  } catch (error) {
    status.textContent = "prediction failed: " + error.message;
  } finally {
    inFlight = false;
    if (dirty) send();
  }
}
function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
    (event.clientY - box.top) * pad.height / box.height];
}
function stroke(to) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 20;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(...(last || to));
  ctx.lineTo(...to);
  ctx.stroke();
  last = to;
  inked = true;
}
pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  last = null;
  stroke(point(event));
  send();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  stroke(point(event));
  send();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    send();
  });
}
document.getElementById("clear").addEventListener("click", () => {
  blank();
  resetBars();
});
blank();
makeBars();
resetBars();
fetch("/model").then((r) => r.json()).then((m) => {
  classes = m.layers[m.layers.length - 1];
  makeBars();
  resetBars();
  showModel(m);
}).catch((error) => { status.textContent = "cannot load the model: " + error.message; });
</script>
</body>
</html>
`;
