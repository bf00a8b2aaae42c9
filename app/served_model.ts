/**
 * The model a prediction server holds: a saved model loaded from a run
 * folder, a model file, or a registry's champion, with its network built on
 * its own WebAssembly kernels, ready to predict batches of raw images through
 * the model's own preprocessing (app/predict.ts). Loading finishes everything
 * (decode, validate, network, workspace) before the caller sees the model, so
 * a server can swap one reference to change models.
 *
 * @module
 */
import { createWasmKernels, type WasmKernels } from "../kernels/wasm_kernels.ts";
import type { SavedModel } from "../model/format.ts";
import { argmax, createWorkspace, forward, type Workspace } from "../model/network.ts";
import { networkOf } from "../stages/evaluate.ts";
import { statOrNull } from "../engine/files.ts";
import {
  isRegistry,
  missingChampionError,
  readCurrent,
  readVersion,
  versionDir,
} from "../registry/registry.ts";
import { RegistryError } from "../engine/errors.ts";
import { loadModel, preprocessImages, toProbabilities } from "./predict.ts";

/** Where a served model came from and how good it is. */
export interface ModelInfo {
  /** The registry version (`v0003`), or the run folder's or model file's name. */
  version: string;
  /** Test accuracy 0..1 from the version's `version.json` or the run's `metrics.json`; null if unknown. */
  testAccuracy: number | null;
  /** The model file loaded. */
  path: string;
  /** When it was loaded (ISO 8601). */
  loadedAt: string;
}

/** One image's prediction. */
export interface ImagePrediction {
  /** The most probable class. */
  class: number;
  /** Class probabilities, summing to 1. */
  probabilities: number[];
}

/** A loaded model, ready to predict; {@linkcode loadServedModel} makes one. */
export interface ServedModel {
  /** Where it came from. */
  readonly info: ModelInfo;
  /** The saved model: architecture, preprocessing, parameters. */
  readonly model: SavedModel;
  /**
   * Predicts `count` raw 0..255 images of the model's rows × cols, laid end to
   * end: normalizes (and deskews) them as the model was trained, then runs
   * them through the network in batches of the workspace's size.
   */
  predict(raw: Float32Array, count: number): ImagePrediction[];
  /** Frees the kernels; the model must not predict afterwards. */
  close(): void;
}

/** The name a run folder or model file goes by: its last path segment. */
function nameOf(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() || path;
}

/** `testAccuracy` from the `metrics.json` beside a model file, or null. */
async function runAccuracy(modelFile: string): Promise<number | null> {
  const folder = modelFile.includes("/") ? modelFile.slice(0, modelFile.lastIndexOf("/")) : ".";
  try {
    const { testAccuracy } = JSON.parse(await Deno.readTextFile(`${folder}/metrics.json`));
    return typeof testAccuracy === "number" ? testAccuracy : null;
  } catch {
    // A model file on its own has no metrics: its accuracy is simply unknown.
    return null;
  }
}

/** Whether `source` is a model registry (a folder with `versions/` or `current`). */
export async function isRegistrySource(source: string): Promise<boolean> {
  return (await statOrNull(source))?.isDirectory === true && await isRegistry(source);
}

/**
 * Loads the model at `source` (a run folder, a model file, or a registry,
 * whose champion it loads) onto fresh kernels, with a workspace for batches of
 * up to `capacity` images. Throws `InputError`, `ModelError` or
 * {@linkcode RegistryError} as predict does.
 */
export async function loadServedModel(source: string, capacity = 256): Promise<ServedModel> {
  let folder = source, version: string, testAccuracy: number | null;
  if (await isRegistrySource(source)) {
    const dir = source.replace(/\/+$/, "");
    const id = await readCurrent(dir);
    if (id === null) {
      throw new RegistryError(
        `Cannot serve the champion of registry "${dir}" as one must have been promoted: it has ` +
          `none yet. Hint: run \`deno task retrain\` first`,
      );
    }
    // Versions never change once installed, so the folder read by id is the champion's whole.
    const info = await readVersion(dir, id);
    if (!info) throw missingChampionError(dir, id, `serve the champion of registry "${dir}"`);
    folder = versionDir(dir, id);
    version = id;
    testAccuracy = info.testAccuracy;
  } else {
    version = nameOf(source);
    testAccuracy = null;
  }
  const { model, path } = await loadModel(folder);
  if (testAccuracy === null) testAccuracy = await runAccuracy(path);
  // One thread: requests already share a core with the server, and no workers need permissions.
  const kernels: WasmKernels = await createWasmKernels({ threads: 1 });
  try {
    const net = networkOf(model, kernels);
    const ws: Workspace = createWorkspace(net, capacity, kernels);
    const { rows, cols } = model.preprocessing;
    const width = rows * cols;
    const classes = model.spec.sizes[model.spec.sizes.length - 1];
    const input = kernels.alloc(capacity * width);
    const info: ModelInfo = { version, testAccuracy, path, loadedAt: new Date().toISOString() };
    let closed = false;
    return {
      info,
      model,
      predict(raw, count) {
        if (closed) throw new RangeError(`Cannot predict with model "${path}" as it is closed`);
        const images = preprocessImages(raw.subarray(0, count * width), model.preprocessing);
        const out: ImagePrediction[] = [];
        for (let start = 0; start < count; start += capacity) {
          const n = Math.min(capacity, count - start);
          input.set(images.subarray(start * width, (start + n) * width));
          const p = forward(net, input, n, ws);
          for (let i = 0; i < n; i++) {
            const units = p.subarray(i * classes, (i + 1) * classes) as Float32Array;
            out.push({
              class: argmax(p, i * classes, classes),
              probabilities: toProbabilities(units, `image ${start + i} of the request`, path),
            });
          }
        }
        return out;
      },
      close() {
        closed = true;
        kernels.close();
      },
    };
  } catch (error) {
    kernels.close();
    throw error;
  }
}

/** The champion's id when `source` is a registry, else null (nothing to follow). */
export async function championOf(source: string): Promise<string | null> {
  return await readCurrent(source.replace(/\/+$/, ""));
}
