import type { Board } from '../device/board.js';
import type { ConsoleLine } from '../device/console-history.js';
import type { RunContext } from './run-context.js';

/**
 * One kind of step in the library (power, expect-console, sideload...). Its
 * parameters are checked against `schema` when a scenario is loaded.
 */
export interface StepType<P = Record<string, unknown>> {
  readonly type: string;
  readonly description: string;
  /** JSON Schema of the step's own parameters (the common fields are checked elsewhere). */
  readonly schema: Record<string, unknown>;
  readonly defaultTimeoutMs: number;
  /**
   * The step needs a powered board: on a board that is off it fails at once as a
   * device fault instead of waiting out its timeout for something that cannot come.
   */
  readonly needsPower?: boolean | ((params: P) => boolean);
  run(params: P, context: StepContext): Promise<void>;
}

export interface MeasureOptions {
  unit?: string;
  min?: number;
  max?: number;
  equals?: number | string | boolean;
}

export interface StepContext {
  readonly board: Board;
  /** Aborted on step timeout or run cancellation. */
  readonly signal: AbortSignal;
  readonly run: RunContext;
  /** Milliseconds left before the step times out. */
  remainingMs(): number;
  /** Records a measurement; returns whether it is within its limits (a miss fails the step). */
  measure(name: string, value: number | string | boolean, options?: MeasureOptions): boolean;
  /** Marks console lines the step matched, for the report and the dashboard. */
  matched(line: ConsoleLine): void;
  note(message: string): void;
}

export function defineStep<P>(step: StepType<P>): StepType<P> {
  return step;
}
