import { InputError } from '../util/failure.js';

/**
 * Topic patterns of subscriptions: an exact topic (`run:42`), a `*` standing for any
 * run of characters (`board:*`, `console:board-0*`), or `*` alone for everything.
 * `?` and `[` are not allowed, so a pattern means the same to SQLite's GLOB (used
 * for replay from the event log) as to `TopicMatcher` (used for live events).
 */
export const TOPIC_CHARACTERS = /^[A-Za-z0-9_.:@+\-/*]{1,200}$/;

/** Topics are patterns without `*`. */
export function isValidTopic(topic: string): boolean {
  return TOPIC_CHARACTERS.test(topic) && !topic.includes('*');
}

export function isValidTopicPattern(pattern: string): boolean {
  return TOPIC_CHARACTERS.test(pattern);
}

export class TopicPatternError extends InputError {}

export class TopicMatcher {
  /** The patterns, deduplicated, in the order given. */
  readonly patterns: readonly string[];
  readonly matchesEverything: boolean;
  private readonly exact = new Set<string>();
  private readonly wildcards: RegExp[] = [];

  constructor(patterns: readonly string[]) {
    if (patterns.length === 0) throw new TopicPatternError('bad-topic-pattern', 'a subscription needs at least one topic pattern');
    if (patterns.length > 100) throw new TopicPatternError('bad-topic-pattern', `at most 100 topic patterns, got ${patterns.length}`);
    const unique: string[] = [];
    for (const pattern of patterns) {
      if (typeof pattern !== 'string' || !isValidTopicPattern(pattern)) {
        throw new TopicPatternError('bad-topic-pattern', `bad topic pattern ${JSON.stringify(pattern)}: use letters, digits, _ . : @ + - / and * (1 to 200 characters)`, {
          pattern,
        });
      }
      if (unique.includes(pattern)) continue;
      unique.push(pattern);
      if (pattern.includes('*')) {
        const source = pattern.split('*').map((part) => part.replace(/[.+\-/]/g, '\\$&')).join('.*');
        this.wildcards.push(new RegExp(`^${source}$`, 's'));
      } else {
        this.exact.add(pattern);
      }
    }
    this.patterns = unique;
    this.matchesEverything = unique.some((p) => /^\*+$/.test(p));
  }

  matches(topic: string): boolean {
    if (this.matchesEverything || this.exact.has(topic)) return true;
    for (const wildcard of this.wildcards) if (wildcard.test(topic)) return true;
    return false;
  }
}
