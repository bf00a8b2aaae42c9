/**
 * A kernel worker that never says it is ready.
 *
 * @module
 */
/// <reference lib="deno.worker" />
self.onmessage = () => {};
