import type { ConsoleLine } from './api-types.js';

/**
 * The recent console lines of one board, bounded: the page never holds more than
 * `capacity` lines per board however long it stays open. Each line also gets a
 * position in this buffer (`pos`), which only grows, so a view can ask for
 * "what came after what I drew" even when the daemon's own line numbers start
 * again after a restart.
 */
export interface BufferedLine extends ConsoleLine {
  pos: number;
  /** A note the page added (e.g. the console restarted), not a line from the board. */
  note?: boolean;
}

export class ConsoleBuffer {
  private lines: BufferedLine[] = [];
  private nextPos = 1;
  /** Lines dropped from the front since the page opened. */
  dropped = 0;
  /** Goes up when positions are renumbered (a backfill): views that drew by position start over. */
  generation = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.lines.length;
  }

  get lastPos(): number {
    return this.nextPos - 1;
  }

  /** A line as it streams in. */
  push(line: ConsoleLine): void {
    const last = this.lines[this.lines.length - 1];
    if (last && !last.note && line.seq <= last.seq) {
      this.lines.push({ seq: 0, timestamp: line.timestamp, text: '— console numbering restarted (the daemon restarted) —', pos: this.nextPos++, note: true });
    }
    this.lines.push({ seq: line.seq, timestamp: line.timestamp, text: line.text, ...(line.channel ? { channel: line.channel } : {}), pos: this.nextPos++ });
    // Trim in chunks so a busy console costs an occasional splice, not one per line.
    if (this.lines.length > this.capacity + Math.max(16, this.capacity >> 3)) this.trimTo(this.capacity);
  }

  /**
   * Older lines fetched from the daemon after streaming began: only those before
   * the first streamed line go in, in front. Positions are re-numbered, so views
   * redraw after a backfill.
   */
  backfill(older: readonly ConsoleLine[]): void {
    const first = this.lines.find((l) => !l.note);
    const before = first ? older.filter((l) => l.seq < first.seq) : older;
    if (!before.length) return;
    const merged: ConsoleLine[] = [...before, ...this.lines];
    this.lines = [];
    this.nextPos = 1;
    this.generation++;
    for (const line of merged) this.lines.push({ ...line, pos: this.nextPos++ });
    this.trimTo(this.capacity);
  }

  /** Lines with a position after `pos`, at most `limit` of the newest. */
  after(pos: number, limit = Infinity): BufferedLine[] {
    let start = this.lines.length;
    while (start > 0 && this.lines[start - 1]!.pos > pos && this.lines.length - start < limit) start--;
    return this.lines.slice(start);
  }

  /** Every line kept, oldest first. */
  all(): readonly BufferedLine[] {
    return this.lines;
  }

  private trimTo(size: number): void {
    const excess = this.lines.length - size;
    if (excess <= 0) return;
    this.lines.splice(0, excess);
    this.dropped += excess;
  }
}
