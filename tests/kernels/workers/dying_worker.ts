/**
 * A kernel worker that says it is ready, then dies of an uncaught error.
 *
 * @module
 */
/// <reference lib="deno.worker" />
self.onmessage = () => {
  self.postMessage("ready");
  setTimeout(() => {
    throw new Error("worker crashed on purpose");
  }, 10);
};
