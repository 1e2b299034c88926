/**
 * The fuzzer's only source of randomness: a small seeded PRNG (mulberry32), one
 * fresh stream per iteration. Iteration i of a run with seed S always draws the
 * same numbers, whatever ran before it, so any single input can be regenerated
 * from (S, i) alone: by the watchdog after it killed a hung worker, and by
 * `--seed S --replay-iteration i`.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uint32. */
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** In [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n); 0 when n <= 0. */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Random.pick: nothing to pick from');
    return items[this.below(items.length)]!;
  }

  /** Small numbers much more often than large ones: 1..max, roughly log-uniform. */
  smallCount(max: number): number {
    const bits = this.below(Math.max(1, Math.ceil(Math.log2(max + 1))));
    return Math.min(max, 1 + this.below(2 ** bits));
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The seed of iteration `iteration` of a run seeded `seed` (a splitmix-style hash of both). */
export function iterationSeed(seed: number, iteration: number): number {
  let h = (seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h ^= Math.floor(iteration / 4294967296) * 0x27d4eb2d;
  return (h ^ (h >>> 16)) >>> 0;
}

export function randomFor(seed: number, iteration: number): Random {
  return new Random(iterationSeed(seed, iteration));
}
