/**
 * A one-line progress bar for a terminal: redrawn in place with a carriage
 * return, at most every `minIntervalMs`, so a fast stream of updates costs
 * nothing. Only for TTYs; commands print plain lines (or JSON) otherwise.
 */
export class ProgressBar {
  #last = 0;
  #drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly width = 30,
    private readonly minIntervalMs = 100,
  ) {}

  /** `fraction` in 0..1, or undefined for a bar that only shows the label. */
  update(fraction: number | undefined, label: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.#last < this.minIntervalMs) return;
    this.#last = now;
    const columns = this.stream.columns || 80;
    let line: string;
    if (fraction === undefined) {
      line = label;
    } else {
      const clamped = Math.max(0, Math.min(1, fraction));
      const filled = Math.round(clamped * this.width);
      line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${(clamped * 100).toFixed(0).padStart(3)}% ${label}`;
    }
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
    this.#drawn = true;
  }

  /** Ends the bar's line so the next output starts on a fresh one. */
  finish(): void {
    if (this.#drawn) this.stream.write('\n');
    this.#drawn = false;
  }
}
