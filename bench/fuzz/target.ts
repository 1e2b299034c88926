import type { Random } from './random.js';

/**
 * What every fuzz target provides. A target is prepared once (seeds built or read,
 * parsers set up), then called once per iteration: `generate` makes the input from
 * that iteration's PRNG, `run` feeds it to the project's real parser(s).
 *
 * `run` returns normally when the input was accepted, and throws only when it was
 * refused; `isRejection` says whether a thrown value is the parser's documented
 * refusal. Anything else thrown (a TypeError, a RangeError, an error class the
 * parser does not document, a non-Error) is a crash.
 */
export const TARGET_NAMES = ['image', 'asxipfs', 'recovery-frames', 'rest-bodies', 'rig-yaml', 'scenario-yaml', 'evidence'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface PreparedTarget {
  /** The seeds the mutations start from (for the report). */
  seedCount: number;
  /** The input of one iteration: a mutation of a seed. Deterministic in `rng`. */
  generate(rng: Random): Buffer;
  /** Runs the parser(s) on one input; may return a promise (async parsers). */
  run(input: Buffer): void | Promise<void>;
  /** True for the parser's documented refusal of bad input. */
  isRejection(error: unknown): boolean;
  /** Releases anything the target holds (none need to today). */
  close?(): void | Promise<void>;
}

export interface FuzzTarget {
  name: TargetName;
  prepare(): Promise<PreparedTarget>;
}

export function isTargetName(value: string): value is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(value);
}

/**
 * Thrown by a target when a parser broke a documented property without throwing
 * (e.g. an accepted image that does not serialize back to the same bytes); counted
 * as a crash, as a wrong answer is worse than a refusal.
 */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}
