import assert from "node:assert/strict";
import { percent, percentSpread, points, pointsSpread, pValue } from "../../report/format.ts";

Deno.test("percent() shows a fraction as a percentage with two decimals", () => {
  assert.equal(percent(0), "0.00%");
  assert.equal(percent(1), "100.00%");
  assert.equal(percent(0.5), "50.00%");
  assert.equal(percent(0.975), "97.50%");
  assert.equal(percent(1 / 3), "33.33%");
  assert.equal(percent(2 / 3), "66.67%");
  assert.equal(percent(0.00004), "0.00%");
});

Deno.test("percent() writes the placeholder for a missing value, an en dash unless told", () => {
  assert.equal(percent(null), "–");
  assert.equal(percent(undefined), "–");
  assert.equal(percent(undefined, "?"), "?");
  assert.equal(percent(0, "?"), "0.00%");
});

Deno.test("percentSpread() adds the deviation in points only when there is one", () => {
  assert.equal(percentSpread({ mean: 0.9, sd: null }), "90.00%");
  assert.equal(percentSpread({ mean: 0.9, sd: 0.0125 }), "90.00% ± 1.25");
  assert.equal(percentSpread({ mean: 0.9, sd: 0 }), "90.00% ± 0.00");
});

Deno.test("points() always signs the difference, with a true minus sign", () => {
  assert.equal(points(2.5), "+2.50 points");
  assert.equal(points(0), "+0.00 points");
  assert.equal(points(-0), "+0.00 points");
  assert.equal(points(-2.5), "\u22122.50 points");
  // A loss too small to show still reads as a loss.
  assert.equal(points(-0.001), "\u22120.00 points");
  assert.ok(!points(-1).includes("-"), "an ASCII hyphen is not a minus sign");
});

Deno.test("pointsSpread() puts the deviation between the difference and the unit", () => {
  assert.equal(pointsSpread({ mean: 1.25, sd: null }), "+1.25 points");
  assert.equal(pointsSpread({ mean: -1.25, sd: 0.5 }), "\u22121.25 ± 0.50 points");
});

Deno.test("pValue() shows four decimals down to 0.001, then two significant digits in e-notation", () => {
  assert.equal(pValue(1), "1.0000");
  assert.equal(pValue(0.21875), "0.2188");
  assert.equal(pValue(0.001), "0.0010");
  assert.equal(pValue(0.000999), "9.99e-4");
  assert.equal(pValue(1.234e-12), "1.23e-12");
  assert.equal(pValue(0), "0.00e+0");
});
