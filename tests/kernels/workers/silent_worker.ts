/**
 * A kernel worker that says it is ready, then never answers a request, as one
 * stuck in an endless loop or descheduled for good.
 *
 * @module
 */
/// <reference lib="deno.worker" />
self.onmessage = () => self.postMessage("ready");
