/**
 * A board's clock: wall time plus an offset that `advance` raises, so that a
 * scenario can cross a day in milliseconds. Timers are set in board time: an
 * `advance` past their deadline fires them at once, in deadline order.
 */
export type Speed = 'fast' | 'real';

interface BoardTimer {
  id: number;
  due: number;
  fn: () => void;
  handle: NodeJS.Timeout | undefined;
}

export class BoardClock {
  #offsetMs = 0;
  #nextId = 1;
  readonly #timers = new Map<number, BoardTimer>();
  readonly #bootWall: number;

  constructor(private readonly wall: () => number = Date.now) {
    this.#bootWall = wall();
  }

  /** Board time in ms since the epoch. */
  now(): number {
    return this.wall() + this.#offsetMs;
  }

  /** Move board time forward; timers now due fire in order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot advance the clock by ${ms} ms`);
    this.#offsetMs += ms;
    const due = [...this.#timers.values()].filter((t) => t.due <= this.now()).sort((a, b) => a.due - b.due);
    for (const timer of due) {
      if (!this.#timers.has(timer.id)) continue;
      this.#clear(timer);
      timer.fn();
    }
    // Re-arm the rest against the new offset.
    for (const timer of this.#timers.values()) this.#arm(timer);
  }

  /** Run `fn` after `ms` of board time; returns an id for `cancel`. */
  setTimer(ms: number, fn: () => void): number {
    const timer: BoardTimer = { id: this.#nextId++, due: this.now() + Math.max(0, ms), fn, handle: undefined };
    this.#timers.set(timer.id, timer);
    this.#arm(timer);
    return timer.id;
  }

  cancel(id: number | undefined): void {
    if (id === undefined) return;
    const timer = this.#timers.get(id);
    if (timer) this.#clear(timer);
  }

  cancelAll(): void {
    for (const timer of [...this.#timers.values()]) this.#clear(timer);
  }

  /** Board time elapsed since `since` (ms since epoch, board time). */
  elapsedSince(since: number): number {
    return this.now() - since;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  get createdAtWall(): number {
    return this.#bootWall;
  }

  #arm(timer: BoardTimer): void {
    if (timer.handle) clearTimeout(timer.handle);
    // setTimeout's limit is 2^31-1 ms; longer timers re-arm when they wake.
    const delay = Math.min(Math.max(0, timer.due - this.now()), 2 ** 31 - 1);
    timer.handle = setTimeout(() => {
      if (timer.due > this.now()) return this.#arm(timer);
      this.#clear(timer);
      timer.fn();
    }, delay);
    timer.handle.unref?.();
  }

  #clear(timer: BoardTimer): void {
    if (timer.handle) clearTimeout(timer.handle);
    this.#timers.delete(timer.id);
  }
}
