/**
 * The augment worker: holds the training images (shared, read in place) and
 * answers each batch request with its augmented rows, in the order asked. See
 * stages/augment.ts for the messages.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  augmentBatch,
  type AugmentReply,
  type AugmentRequest,
  type AugmentSetup,
  type AugmentState,
  createAugmentState,
} from "./augment.ts";

let images: Float32Array | null = null;
let setup: AugmentSetup | null = null;
let state: AugmentState | null = null;

const reply = (message: AugmentReply, transfer: Transferable[] = []) =>
  self.postMessage(message, transfer);

self.onmessage = (event: MessageEvent<AugmentRequest>) => {
  const request = event.data;
  try {
    if (request.kind === "init") {
      images = request.images;
      setup = request.setup;
      state = createAugmentState(setup);
      reply({ kind: "ready" });
      return;
    }
    if (!images || !setup || !state) {
      throw new Error("a batch was asked for before the images arrived");
    }
    const out = new Float32Array(request.out);
    augmentBatch(images, request.rows, request.rows, out, request.epoch, setup, state);
    reply({ kind: "batch", id: request.id, out: request.out }, [request.out]);
  } catch (error) {
    reply({ kind: "error", message: error instanceof Error ? error.message : String(error) });
  }
};
