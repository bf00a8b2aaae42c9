// The part of npm:cli-progress@3.12.0 that pipeline/progress.ts uses. Declared here rather than
// through @types/cli-progress, which drags in @types/node and its unresolvable references.

/** A writable terminal stream, such as `process.stderr`. */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** Whether the stream is a terminal. */
  isTTY?: boolean;
  /** Terminal width in columns. */
  columns?: number;
}

/** Options of a bar, as cli-progress documents them. */
export interface Options {
  /** Where the bar draws. */
  stream?: ProgressStream;
  /** The bar's text, with `{name}` placeholders. */
  format?: string;
  /** Characters of the bar itself. */
  barsize?: number;
  /** Hide the cursor while drawing. */
  hideCursor?: boolean;
  /** Erase the bar when it stops. */
  clearOnComplete?: boolean;
  /** Redraw even when the text has not changed. */
  forceRedraw?: boolean;
  /** Most redraws per second. */
  fps?: number;
  /** Redraw on every update instead of on a timer. */
  synchronousUpdate?: boolean;
}

/** A bar's look: the characters it draws with. */
export interface Preset {
  /** The filled part. */
  barCompleteChar: string;
  /** The empty part. */
  barIncompleteChar: string;
  /** A default text. */
  format?: string;
}

/** One bar inside a MultiBar. */
export class SingleBar {
  /** Changes the bar's end value. */
  setTotal(total: number): void;
  /** Moves the bar and refills its placeholders. */
  update(value: number, payload?: Record<string, unknown>): void;
}

/** Several bars redrawn together, with log lines printed above them. */
export class MultiBar {
  /** A MultiBar drawing on `options.stream` with the look of `preset`. */
  constructor(options: Options, preset?: Preset);
  /** Adds a bar. */
  create(total: number, start: number, payload?: Record<string, unknown>): SingleBar;
  /** Removes a bar. */
  remove(bar: SingleBar): boolean;
  /** Prints a line above the bars. */
  log(text: string): void;
  /** Redraws the bars. */
  update(): void;
  /** Stops and, with clearOnComplete, erases the bars. */
  stop(): void;
}

/** The looks cli-progress ships. */
export const Presets: { shades_classic: Preset };

/** The module's default export. */
declare const cliProgress: {
  MultiBar: typeof MultiBar;
  SingleBar: typeof SingleBar;
  Presets: typeof Presets;
};
export default cliProgress;
