import type { EmulatedBoard } from '../emulated-board.js';

/**
 * What GET /log serves. The real diagnostic log is a binary format Microsoft
 * does not publish; the emulator's is its own, documented here: UTF-8 text, one
 * line per debug-UART line, `<board-clock ISO time> <line>\n`, oldest first,
 * the last 2000 lines (at most 256 KiB), kept in RAM across resets like a
 * device's persistent log buffer (lost with the process, not with the board).
 */
const MAX_LINES = 2000;
const MAX_BYTES = 256 * 1024;

export class ConsoleHistory {
  #lines: string[] = [];
  #bytes = 0;
  readonly #onLine: (line: string) => void;

  constructor(private readonly board: EmulatedBoard) {
    this.#onLine = (line) => this.#add(`${new Date(board.clock.now()).toISOString()} ${line}\n`);
    board.on('console', this.#onLine);
  }

  bytes(): Buffer {
    return Buffer.from(this.#lines.join(''), 'utf8');
  }

  close(): void {
    this.board.off('console', this.#onLine);
  }

  #add(entry: string): void {
    this.#lines.push(entry);
    this.#bytes += Buffer.byteLength(entry);
    while (this.#lines.length > MAX_LINES || this.#bytes > MAX_BYTES) {
      this.#bytes -= Buffer.byteLength(this.#lines.shift()!);
    }
  }
}
