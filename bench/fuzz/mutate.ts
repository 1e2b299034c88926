import type { Random } from './random.js';

/**
 * Mutations of a seed input, stacked a few at a time (AFL's "havoc" idea):
 *   bytes: bit flips, random bytes, byte insert/delete/duplicate, copies within the
 *          input, splices of two seeds, interesting integers (8/16/32-bit, both
 *          endians) and small arithmetic at random offsets, dictionary tokens,
 *          truncation;
 *   text:  the same on a token level (words, numbers, punctuation, whitespace) and a
 *          line level (delete, duplicate, swap, re-indent, splice lines of two seeds),
 *          dictionary tokens, interesting numbers, quoting; now and then a byte-level
 *          mutation of the UTF-8.
 * Offsets favour the target's "hot" ranges (headers, metadata) half of the time.
 */

/** A range of offsets; negative numbers count from the end (-1 is the last byte). */
export interface HotRange {
  from: number;
  to: number;
}

export interface ByteMutationOptions {
  hot?: readonly HotRange[];
  dictionary?: readonly Buffer[];
  /** Inputs are cut to this length (default 1 MiB). */
  maxLength?: number;
  /** Most mutations stacked on one input (default 6). */
  maxStack?: number;
}

export interface TextMutationOptions {
  dictionary?: readonly string[];
  /** Inputs are cut to this many characters (default 64 Ki). */
  maxLength?: number;
  maxStack?: number;
}

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x64, 0xfe];
const INTERESTING_16 = [0x0000, 0x0001, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xffff, 0xfffe, 0x1000, 0x0fff, 0x4000];
const INTERESTING_32 = [
  0x00000000, 0x00000001, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x00010000, 0x0000ffff, 0x00001000, 0x01000000,
  0x10000000, 0x00ffffff, 0x40000000, 0x3fffffff,
];

/** Number spellings that sit on parser edges: signs, exponents, overflow, hex, special values. */
export const INTERESTING_NUMBERS: readonly string[] = [
  '0', '-0', '1', '-1', '2', '7', '8', '15', '16', '31', '32', '63', '64', '100', '127', '128', '255', '256', '1000', '1023', '1024',
  '4095', '4096', '32767', '32768', '65535', '65536', '86400000', '86400001', '2147483647', '2147483648', '-2147483648', '4294967295',
  '4294967296', '9007199254740991', '9007199254740992', '18446744073709551616', '1e308', '1e309', '-1e309', '1e-400', '0.5', '1.5',
  '-0.0', '1e3', '0x10', '0o17', '0b101', '.inf', '-.inf', '.nan', 'NaN', 'Infinity', '00', '01', '+1', '1_000',
];

export function pickOffset(rng: Random, length: number, hot: readonly HotRange[] | undefined, inclusiveEnd = false): number {
  const span = inclusiveEnd ? length + 1 : length;
  if (span <= 0) return 0;
  if (hot?.length && rng.chance(0.5)) {
    const range = rng.pick(hot);
    const from = clamp(range.from < 0 ? length + range.from : range.from, 0, span - 1);
    const to = clamp(range.to < 0 ? length + range.to : range.to, from, span - 1);
    return rng.between(from, to);
  }
  return rng.below(span);
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

// ----------------------------------------------------------------------------------
// Bytes

type ByteMutation = (rng: Random, input: Buffer, others: readonly Buffer[], options: ByteMutationOptions) => Buffer;

const flipBits: ByteMutation = (rng, input, _o, options) => {
  if (input.length === 0) return input;
  for (let i = 0, n = rng.smallCount(8); i < n; i++) input[pickOffset(rng, input.length, options.hot)]! ^= 1 << rng.below(8);
  return input;
};

const randomByte: ByteMutation = (rng, input, _o, options) => {
  if (input.length === 0) return input;
  for (let i = 0, n = rng.smallCount(4); i < n; i++) input[pickOffset(rng, input.length, options.hot)] = rng.below(256);
  return input;
};

const interestingInteger: ByteMutation = (rng, input, _o, options) => {
  const width = rng.pick([1, 2, 4]);
  if (input.length < width) return input;
  const at = Math.min(pickOffset(rng, input.length, options.hot), input.length - width);
  const bigEndian = rng.chance(0.25);
  if (width === 1) input[at] = rng.pick(INTERESTING_8);
  else if (width === 2) {
    const value = rng.chance(0.2) ? input.length & 0xffff : rng.pick(INTERESTING_16);
    if (bigEndian) input.writeUInt16BE(value, at);
    else input.writeUInt16LE(value, at);
  } else {
    const value = rng.chance(0.2) ? (input.length + rng.between(-16, 16)) >>> 0 : rng.pick(INTERESTING_32);
    if (bigEndian) input.writeUInt32BE(value, at);
    else input.writeUInt32LE(value, at);
  }
  return input;
};

const arithmetic: ByteMutation = (rng, input, _o, options) => {
  const width = rng.pick([1, 2, 4]);
  if (input.length < width) return input;
  const at = Math.min(pickOffset(rng, input.length, options.hot), input.length - width);
  const delta = rng.between(-35, 35) || 1;
  if (width === 1) input[at] = (input[at]! + delta) & 0xff;
  else if (width === 2) input.writeUInt16LE((input.readUInt16LE(at) + delta) & 0xffff, at);
  else input.writeUInt32LE((input.readUInt32LE(at) + delta) >>> 0, at);
  return input;
};

const insertBytes: ByteMutation = (rng, input, _o, options) => {
  const at = pickOffset(rng, input.length, options.hot, true);
  const length = rng.smallCount(64);
  const fill = rng.chance(0.5) ? rng.bytes(length) : Buffer.alloc(length, rng.pick(INTERESTING_8));
  return Buffer.concat([input.subarray(0, at), fill, input.subarray(at)]);
};

const deleteBytes: ByteMutation = (rng, input, _o, options) => {
  if (input.length === 0) return input;
  const at = pickOffset(rng, input.length, options.hot);
  const length = Math.min(rng.smallCount(256), input.length - at);
  return Buffer.concat([input.subarray(0, at), input.subarray(at + length)]);
};

const duplicateBytes: ByteMutation = (rng, input, _o, options) => {
  if (input.length === 0) return input;
  const from = pickOffset(rng, input.length, options.hot);
  const length = Math.min(rng.smallCount(512), input.length - from);
  const at = pickOffset(rng, input.length, options.hot, true);
  const copies = rng.chance(0.1) ? rng.smallCount(16) : 1;
  const chunk = input.subarray(from, from + length);
  return Buffer.concat([input.subarray(0, at), ...Array.from({ length: copies }, () => chunk), input.subarray(at)]);
};

const copyWithin: ByteMutation = (rng, input, _o, options) => {
  if (input.length < 2) return input;
  const from = pickOffset(rng, input.length, options.hot);
  const to = pickOffset(rng, input.length, options.hot);
  const length = Math.min(rng.smallCount(64), input.length - from, input.length - to);
  input.copyWithin(to, from, from + length);
  return input;
};

const splice: ByteMutation = (rng, input, others) => {
  if (others.length === 0) return input;
  const other = rng.pick(others);
  const cutA = rng.below(input.length + 1);
  const cutB = rng.below(other.length + 1);
  return rng.chance(0.5)
    ? Buffer.concat([input.subarray(0, cutA), other.subarray(cutB)])
    : Buffer.concat([other.subarray(0, cutB), input.subarray(cutA)]);
};

const dictionaryToken: ByteMutation = (rng, input, _o, options) => {
  if (!options.dictionary?.length) return input;
  const token = rng.pick(options.dictionary);
  const at = pickOffset(rng, input.length, options.hot, true);
  if (rng.chance(0.5) || at + token.length > input.length) return Buffer.concat([input.subarray(0, at), token, input.subarray(at)]);
  token.copy(input, at);
  return input;
};

const truncate: ByteMutation = (rng, input, _o, options) => {
  // Most cuts near the end (a transfer cut short), some anywhere.
  const keep = rng.chance(0.5) ? pickOffset(rng, input.length, options.hot, true) : rng.below(input.length + 1);
  return input.subarray(0, keep);
};

const BYTE_MUTATIONS: ReadonlyArray<[ByteMutation, number]> = [
  [flipBits, 6],
  [randomByte, 3],
  [interestingInteger, 6],
  [arithmetic, 3],
  [insertBytes, 2],
  [deleteBytes, 2],
  [duplicateBytes, 2],
  [copyWithin, 2],
  [splice, 2],
  [dictionaryToken, 2],
  [truncate, 1],
];

function weightedPicker<T>(entries: ReadonlyArray<[T, number]>): (rng: Random) => T {
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  return (rng) => {
    let roll = rng.below(total);
    for (const [value, weight] of entries) {
      if (roll < weight) return value;
      roll -= weight;
    }
    return entries[entries.length - 1]![0];
  };
}

const pickByteMutation = weightedPicker(BYTE_MUTATIONS);

/** A mutated copy of `seed` (never `seed` itself: the seeds stay intact). */
export function mutateBytes(rng: Random, seed: Buffer, others: readonly Buffer[], options: ByteMutationOptions = {}): Buffer {
  const maxLength = options.maxLength ?? 1024 * 1024;
  let input: Buffer = Buffer.from(seed);
  for (let i = 0, n = rng.smallCount(options.maxStack ?? 6); i < n; i++) {
    input = pickByteMutation(rng)(rng, input, others, options);
    if (input.length > maxLength) input = input.subarray(0, maxLength);
  }
  // Mutations that return subarrays share memory with the working copy only, never with `seed`.
  return input;
}

// ----------------------------------------------------------------------------------
// Text

const TOKEN = /[A-Za-z_][\w.-]*|[+-]?\d[\w.+-]*|[ \t]+|\r?\n|./gsu;

function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

type TextMutation = (rng: Random, tokens: string[], others: readonly string[], options: TextMutationOptions) => string[];

function tokenOffset(rng: Random, tokens: string[], inclusiveEnd = false): number {
  return rng.below(tokens.length + (inclusiveEnd ? 1 : 0));
}

function pickToken(rng: Random, tokens: string[], options: TextMutationOptions): string {
  const roll = rng.below(10);
  if (roll < 5 && options.dictionary?.length) return rng.pick(options.dictionary);
  if (roll < 7) return rng.pick(INTERESTING_NUMBERS);
  if (tokens.length) return rng.pick(tokens);
  return rng.pick(INTERESTING_NUMBERS);
}

const replaceToken: TextMutation = (rng, tokens, _o, options) => {
  if (tokens.length) tokens[tokenOffset(rng, tokens)] = pickToken(rng, tokens, options);
  return tokens;
};

const insertToken: TextMutation = (rng, tokens, _o, options) => {
  tokens.splice(tokenOffset(rng, tokens, true), 0, pickToken(rng, tokens, options));
  return tokens;
};

const deleteTokens: TextMutation = (rng, tokens) => {
  if (tokens.length) tokens.splice(tokenOffset(rng, tokens), rng.smallCount(8));
  return tokens;
};

const duplicateTokens: TextMutation = (rng, tokens) => {
  if (!tokens.length) return tokens;
  const from = tokenOffset(rng, tokens);
  const run = tokens.slice(from, from + rng.smallCount(32));
  const copies = rng.chance(0.1) ? rng.smallCount(64) : 1;
  const at = tokenOffset(rng, tokens, true);
  tokens.splice(at, 0, ...Array.from({ length: copies }, () => run).flat());
  return tokens;
};

const replaceNumber: TextMutation = (rng, tokens) => {
  const numbers = tokens.flatMap((token, i) => (/^[+-]?\d/.test(token) ? [i] : []));
  if (numbers.length) tokens[rng.pick(numbers)] = rng.pick(INTERESTING_NUMBERS);
  return tokens;
};

const quoteToken: TextMutation = (rng, tokens) => {
  if (!tokens.length) return tokens;
  const at = tokenOffset(rng, tokens);
  const token = tokens[at]!;
  const quote = rng.pick(["'", '"', '`']);
  tokens[at] = token.startsWith(quote) ? token.slice(1) : rng.chance(0.7) ? `${quote}${token}${quote}` : `${quote}${token}`;
  return tokens;
};

function linesOf(tokens: string[]): string[] {
  return tokens.join('').split('\n');
}

const lineMutation: TextMutation = (rng, tokens, others) => {
  const lines = linesOf(tokens);
  const at = rng.below(lines.length);
  switch (rng.below(6)) {
    case 0:
      lines.splice(at, rng.smallCount(4));
      break;
    case 1:
      lines.splice(rng.below(lines.length + 1), 0, ...lines.slice(at, at + rng.smallCount(6)));
      break;
    case 2: {
      const other = rng.below(lines.length);
      [lines[at], lines[other]] = [lines[other]!, lines[at]!];
      break;
    }
    case 3:
      lines[at] = rng.chance(0.5) ? `${rng.pick(['  ', ' ', '\t', '    '])}${lines[at]}` : lines[at]!.replace(/^ {1,2}/, '');
      break;
    case 4: {
      // Splice: lines of this input up to a point, then lines of another seed.
      if (!others.length) break;
      const donor = rng.pick(others).split('\n');
      const from = rng.below(donor.length);
      lines.splice(at, rng.below(lines.length - at + 1), ...donor.slice(from, from + rng.smallCount(donor.length)));
      break;
    }
    default:
      lines.length = at;
  }
  return tokenize(lines.join('\n'));
};

const byteLevel: TextMutation = (rng, tokens, _o) => {
  const bytes = Buffer.from(tokens.join(''), 'utf8');
  return tokenize(mutateBytes(rng, bytes, [], { maxStack: 2 }).toString('utf8'));
};

const TEXT_MUTATIONS: ReadonlyArray<[TextMutation, number]> = [
  [replaceToken, 6],
  [insertToken, 5],
  [deleteTokens, 3],
  [duplicateTokens, 2],
  [replaceNumber, 3],
  [quoteToken, 2],
  [lineMutation, 4],
  [byteLevel, 2],
];

const pickTextMutation = weightedPicker(TEXT_MUTATIONS);

export function mutateText(rng: Random, seed: string, others: readonly string[], options: TextMutationOptions = {}): string {
  const maxLength = options.maxLength ?? 64 * 1024;
  let tokens = tokenize(seed);
  for (let i = 0, n = rng.smallCount(options.maxStack ?? 4); i < n; i++) {
    tokens = pickTextMutation(rng)(rng, tokens, others, options);
    if (tokens.length > maxLength) tokens.length = maxLength;
  }
  const text = tokens.join('');
  return text.length > maxLength ? text.slice(0, maxLength) : text;
}

/** Distinct identifiers of the seeds (field names, enum values): a dictionary harvested from them. */
export function wordsOf(texts: readonly string[]): string[] {
  const words = new Set<string>();
  for (const text of texts) for (const word of text.match(/[A-Za-z_][\w-]*/g) ?? []) words.add(word);
  return [...words].sort();
}
