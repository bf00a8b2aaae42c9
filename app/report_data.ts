/**
 * Gathers the test digits a run report draws: from the normalize and deskew
 * stage outputs when the run holds them, else (train and evaluate came from
 * the cache, so those stages were never loaded) from the test IDX files put
 * through the model's own preprocessing kernels, which give the same pixels.
 *
 * @module
 */
import type { SavedModel } from "../model/format.ts";
import type { Misclassified } from "../stages/evaluate.ts";
import { backgroundOf, deskewImage } from "../stages/deskew.ts";
import { type DataFiles, decodeImagesAndLabels } from "../stages/idx_decode.ts";
import { normalizePixels } from "../stages/normalize.ts";
import type { DigitCard, ReportDigits } from "../report/html.ts";
import type { Chunk } from "../engine/chunk.ts";

/** How many misclassified digits the report shows, as the textbook's 5×5 grid. */
export const MISCLASSIFIED_SHOWN = 25;

/** How many digits the deskew before/after row shows. */
export const DESKEW_SHOWN = 8;

/** The test set before deskew, and as the model saw it (the same chunk when deskew is off). */
export interface TestViews {
  /** Normalized test images. */
  normalized: Chunk<Float32Array>;
  /** Test image i as the model saw it. */
  seen(index: number): Float32Array;
}

function imageOf(chunk: Chunk<Float32Array>, index: number): Float32Array {
  const size = chunk.rows * chunk.cols;
  return chunk.images.subarray(index * size, (index + 1) * size);
}

/**
 * The test views of a run. `normalized` and `deskewed` are the stage outputs'
 * test chunks when loaded; missing ones are rebuilt from `files` with the
 * model's normalization (and deskew, one image at a time, only for the images drawn).
 */
export async function testViews(
  model: SavedModel,
  files: DataFiles,
  normalized: Chunk<Float32Array> | undefined,
  deskewed: Chunk<Float32Array> | undefined,
): Promise<TestViews> {
  const { preprocessing } = model;
  let base = normalized;
  if (!base) {
    const raw = await decodeImagesAndLabels(files.testImages, files.testLabels);
    base = { ...raw, images: normalizePixels(raw.images, preprocessing.normalization) };
  }
  const chunk = base;
  if (!preprocessing.deskew) return { normalized: chunk, seen: (i) => imageOf(chunk, i) };
  if (deskewed) return { normalized: chunk, seen: (i) => imageOf(deskewed, i) };
  const background = backgroundOf(preprocessing.normalization);
  return {
    normalized: chunk,
    seen: (i) => deskewImage(imageOf(chunk, i), chunk.rows, chunk.cols, background),
  };
}

/** Picks the report's digits: the first misclassified, one per class, and the deskew row. */
export function selectDigits(
  views: TestViews,
  misclassified: readonly Misclassified[],
  deskew: boolean,
): ReportDigits {
  const { normalized } = views;
  const { labels, rows, cols } = normalized;
  const card = (index: number, predicted?: number): DigitCard => ({
    index,
    pixels: views.seen(index),
    label: labels[index],
    ...(predicted === undefined ? {} : { predicted }),
  });
  const firstOfClass = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    if (!firstOfClass.has(labels[i])) firstOfClass.set(labels[i], i);
  }
  const samples = [...firstOfClass.entries()].sort((a, b) => a[0] - b[0]).map(([, i]) => card(i));
  const shown = Math.min(DESKEW_SHOWN, labels.length);
  return {
    rows,
    cols,
    misclassified: misclassified.slice(0, MISCLASSIFIED_SHOWN).map((m) =>
      card(m.index, m.predicted)
    ),
    samples,
    ...(deskew
      ? {
        deskew: Array.from({ length: shown }, (_, i) => ({
          before: { index: i, pixels: imageOf(normalized, i), label: labels[i] },
          after: card(i),
        })),
      }
      : {}),
  };
}
