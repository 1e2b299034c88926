import { EventEmitter } from 'node:events';
import type { BoardConsole } from '../board.js';
import { ConsoleError, ConsoleHistory, type ConsoleExpectOptions, type ConsoleLine } from '../console-history.js';

/**
 * One console history for a real board across everything that takes its
 * debug UART away: USB re-enumeration after a power cycle (the tty comes back
 * as another ttyUSBn), the recovery strap (interface A is in bit-bang mode
 * while it is held). The serial `ConsoleLog` underneath is replaced each time;
 * callers see one sequence of lines, numbered without gaps or reuse, and an
 * `expect` simply keeps waiting while no UART is attached.
 */
export interface ConsoleLineSource {
  on(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  off(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  close(): Promise<void>;
}

export class ContinuousConsole extends EventEmitter<{ line: [line: ConsoleLine]; attached: []; detached: [] }> implements BoardConsole {
  readonly #name: string;
  readonly #history: ConsoleHistory;
  #source: ConsoleLineSource | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(name: string, options: { maxLines?: number } = {}) {
    super();
    this.#name = name;
    this.#history = new ConsoleHistory(name, {
      maxLines: options.maxLines ?? 100_000,
      timeoutNote: () => (this.attached ? '' : ' (the debug UART is not attached right now)'),
    });
  }

  get attached(): boolean {
    return this.#source !== undefined;
  }

  get closed(): boolean {
    return this.#history.closed;
  }

  /** Takes lines from this source from now on; a previous source is let go (not closed). */
  attach(source: ConsoleLineSource): void {
    if (this.#history.closed) {
      void source.close();
      return;
    }
    this.#letGo();
    const onLine = (line: ConsoleLine): void => this.#record(line);
    const onClose = (): void => {
      if (this.#source === source) this.#letGo();
    };
    source.on('line', onLine);
    source.on('close', onClose);
    this.#source = source;
    this.#unsubscribe = () => {
      source.off('line', onLine);
      source.off('close', onClose);
    };
    this.emit('attached');
  }

  /** Lets go of the current source and closes it; the history stays. */
  async detach(): Promise<void> {
    const source = this.#source;
    this.#letGo();
    await source?.close();
  }

  mark(): number {
    return this.#history.mark();
  }

  lines(since = 0): ConsoleLine[] {
    return this.#history.lines(since);
  }

  expect(pattern: RegExp | string, options: ConsoleExpectOptions): Promise<ConsoleLine> {
    return this.#history.expect(pattern, options);
  }

  async close(): Promise<void> {
    if (!this.#history.close(new ConsoleError('infra-error', 'console-closed', `console ${this.#name} was closed`))) return;
    await this.detach();
  }

  #letGo(): void {
    if (!this.#source) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#source = undefined;
    this.emit('detached');
  }

  #record(from: ConsoleLine): void {
    // Lines are renumbered here: each source numbers its own from 1.
    this.emit('line', this.#history.record(from.text, from.timestamp));
  }
}
