/**
 * The errors model code throws on purpose. `model/` imports nothing outside
 * itself, so these do not extend the engine's `PipelineError`; `main.ts`
 * treats both alike.
 *
 * @module
 */

/** Base class of the model's own errors. */
export class ModelError extends Error {
  /** Creates an error whose message states the action, the rule, the value and a hint. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A saved model file is not one this version can load. */
export class ModelFormatError extends ModelError {}
