/**
 * Gathers the test digits a run report draws. It streams the test IDX files
 * once and keeps only the few images it shows, put through the model's own
 * preprocessing (the same functions the stages apply, so the same pixels), so
 * it needs neither the stage outputs nor memory for the whole test set.
 *
 * @module
 */
import type { SavedModel } from "../model/format.ts";
import type { DigitCard, ReportDigits } from "../report/html.ts";
import type { MisclassifiedView } from "../report/views.ts";
import { backgroundOf, deskewImage } from "../stages/deskew.ts";
import { type DataFiles, decodeDataSet } from "../stages/idx_decode.ts";
import { normalizePixels } from "../stages/normalize.ts";

/** How many misclassified digits the report shows, as the textbook's 5×5 grid. */
export const MISCLASSIFIED_SHOWN = 25;

/** How many digits the deskew before/after row shows. */
export const DESKEW_SHOWN = 8;

/**
 * Picks the report's digits: the first misclassified test images, the first
 * test image of each class, and (with deskew) the first few before and after.
 */
export async function reportDigits(
  model: SavedModel,
  files: DataFiles,
  misclassified: readonly MisclassifiedView[],
): Promise<ReportDigits> {
  const { preprocessing } = model;
  const { rows, cols, deskew, normalization } = preprocessing;
  const shownMistakes = misclassified.slice(0, MISCLASSIFIED_SHOWN);
  const wanted = new Set(shownMistakes.map((m) => m.index));
  for (let i = 0; i < DESKEW_SHOWN; i++) wanted.add(i);
  const firstOfClass = new Map<number, number>();
  const kept = new Map<number, { label: number; normalized: Float32Array }>();
  const data = await decodeDataSet(files);
  const width = data.meta.rows * data.meta.cols;
  let index = 0;
  for await (const chunk of data.open("test")) {
    for (let i = 0; i < chunk.labels.length; i++, index++) {
      const label = chunk.labels[i];
      const first = !firstOfClass.has(label);
      if (first) firstOfClass.set(label, index);
      if (!first && !wanted.has(index)) continue;
      const raw = chunk.images.subarray(i * width, (i + 1) * width);
      kept.set(index, { label, normalized: normalizePixels(raw, normalization) });
    }
  }
  const background = backgroundOf(normalization);
  const seen = (i: number) => {
    const { normalized } = kept.get(i)!;
    return deskew ? deskewImage(normalized, rows, cols, background) : normalized;
  };
  const card = (i: number, predicted?: number): DigitCard => ({
    index: i,
    pixels: seen(i),
    label: kept.get(i)!.label,
    ...(predicted === undefined ? {} : { predicted }),
  });
  const samples = [...firstOfClass.entries()].sort((a, b) => a[0] - b[0]).map(([, i]) => card(i));
  const shown = Math.min(DESKEW_SHOWN, index);
  return {
    rows,
    cols,
    misclassified: shownMistakes.map((m) => card(m.index, m.predicted)),
    samples,
    ...(deskew
      ? {
        deskew: Array.from({ length: shown }, (_, i) => ({
          before: { index: i, pixels: kept.get(i)!.normalized, label: kept.get(i)!.label },
          after: card(i),
        })),
      }
      : {}),
  };
}
