import { mutateText, type TextMutationOptions } from './mutate.js';
import type { Random } from './random.js';

/**
 * YAML-aware mutations for the rig and scenario targets. Generic token mutations
 * rarely produce YAML that still parses with something odd in it; these work on
 * `key: value` lines and keep the document well-formed more often:
 *   - a value replaced by an odd YAML value (tags, flow collections, block scalars,
 *     surprising scalars, an alias to nothing, a node that contains itself);
 *   - an anchor put on one node and an alias to it on a later line: a shared node,
 *     or, when the alias sits inside the anchored node, a recursive structure;
 *   - a merge key (<<: *a) inserted;
 * and half of the time the generic text mutations (mutate.ts) with YAML's tokens.
 */
export const YAML_TOKENS: readonly string[] = [
  '&a ', '*a', '&b ', '*b', '<<: *a', '<<: [*a, *b]', '&a [*a]', '&a {k: *a}', '&a\n  - *a',
  '!!str ', '!!int ', '!!float ', '!!bool ', '!!null ', '!!binary ', '!!map ', '!!seq ', '!!set ', '!!omap ', '!!pairs ', '!!timestamp ',
  '!local ', '!<tag:yaml.org,2002:str> ', '%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '%TAG ! tag:example.com,2000:\n---\n',
  '---\n', '\n...\n', '? ', ': ', '- ', '-', ':', ',', '[', ']', '{', '}', '[]', '{}', '|', '|-', '>', '>+', '|2', '#', ' #',
  "'", '"', '"\\u0000"', '"\\ud800"', "''", '""', '\t', '\r\n', '\u00a0', '\ufeff', '\u2028',
  'null', '~', 'Null', 'true', 'false', 'True', 'yes', 'no', 'on', 'off', 'y', 'n', '.inf', '-.inf', '.nan', '0x1F', '0o17', '0b11',
  '1e400', '-0', '2001-12-14t21:59:43.10-05:00', '12:30:00', '1_000',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'length', '__proto__: {}', 'constructor: 1',
  '{{params.x}}', '{{params.__proto__}}', '{{params.constructor}}', '{{params.}}', '{{ params.x }}', '{{params.x}}{{params.x}}',
  '(a+)+$', '\\', 'x'.repeat(300), '\u00e9', '\ud83d\ude00',
];

/** Whole values to put after `key: `. */
const YAML_VALUES: readonly string[] = [
  '&a [*a]', '&a {k: *a}', '*a', '*nothing', '[]', '{}', '[[]]', '{a: {b: {c: []}}}', '~', 'null', '""', "''", '" "', '-1', '0', '1.5', '1e400',
  '.nan', '-.inf', '0x10', '!!binary aGVsbG8=', '!!str 12', '!!int "12"', '!!float 1', '!!bool yes', '!!null x', '!!set {a, b}', '!!omap [a: 1, b: 2]',
  '!!pairs [a: 1]', '!!timestamp 2001-12-14', '!local x', '!!map [1]', '!!seq {a: 1}', '|\n  two\n  lines', '>-\n  folded', '"\\u0000"', '"a\\tb"',
  '[a, {b: *a}]', '{? [1, 2] : x}', '{[1]: x}', '{__proto__: {polluted: 1}}', '{constructor: {prototype: {}}}', '{{params.x}}', "'{{params.x}}'",
  `"${'{{params.x}}'.repeat(50)}"`, 'x'.repeat(5000), `[${'1,'.repeat(500)}1]`, `${'['.repeat(200)}${']'.repeat(200)}`,
];

const KEY_LINE = /^(\s*(?:-\s+)?)([\w.-]+|'[^']*'|"[^"]*"):(\s*)(.*)$/;

interface KeyLine {
  index: number;
  indent: number;
  prefix: string;
  key: string;
  value: string;
}

function keyLines(lines: readonly string[]): KeyLine[] {
  const found: KeyLine[] = [];
  lines.forEach((line, index) => {
    const match = KEY_LINE.exec(line);
    if (match && !line.trimStart().startsWith('#')) {
      found.push({ index, indent: match[1]!.length, prefix: match[1]!, key: match[2]!, value: match[4]! });
    }
  });
  return found;
}

function setValue(lines: string[], line: KeyLine, value: string): void {
  lines[line.index] = `${line.prefix}${line.key}: ${value}`;
}

export function mutateYaml(rng: Random, seed: string, others: readonly string[], options: TextMutationOptions): string {
  if (rng.chance(0.5)) return mutateText(rng, seed, others, options);
  const lines = seed.split('\n');
  if (keyLines(lines).length === 0) return mutateText(rng, seed, others, options);
  for (let i = 0, n = rng.smallCount(3); i < n; i++) {
    const keys = keyLines(lines);
    if (keys.length === 0) break;
    switch (rng.below(4)) {
      case 0:
      case 1:
        setValue(lines, rng.pick(keys), rng.pick(YAML_VALUES));
        break;
      case 2: {
        // An anchor on one node, an alias to it on a later line (inside it: a cycle).
        const anchored = rng.pick(keys);
        const later = keys.filter((k) => k.index > anchored.index);
        const name = rng.pick(['a', 'b']);
        setValue(lines, anchored, `&${name} ${anchored.value}`.trimEnd());
        if (later.length) setValue(lines, rng.pick(later.slice(0, 12)), `*${name}`);
        break;
      }
      default: {
        const at = rng.pick(keys);
        lines.splice(at.index + 1, 0, `${at.prefix.replace(/-/g, ' ')}<<: ${rng.pick(['*a', '*b', '[*a, *b]', '{}', '[]'])}`);
        break;
      }
    }
  }
  const text = lines.join('\n');
  return rng.chance(0.3) ? mutateText(rng, text, others, { ...options, maxStack: 2 }) : text;
}
