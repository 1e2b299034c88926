import { EventEmitter } from 'node:events';
import type { BoardConsole } from './board.js';
import { DEBUG_UART } from './console-channel.js';
import { ConsoleError, ConsoleHistory, type ConsoleExpectOptions, type ConsoleLine } from './console-history.js';

/**
 * One console history for a real board across everything that takes its
 * UARTs away: USB re-enumeration after a power cycle (a tty comes back as
 * another ttyUSBn), the recovery strap (interface A is in bit-bang mode while
 * it is held), a recovery (which has the recovery UART to itself). Each
 * channel (console-channel.ts: the debug UART, the recovery UART...) has its
 * own serial `ConsoleLog` underneath, replaced each time; callers see one
 * sequence of lines, numbered without gaps or reuse and tagged with their
 * channel, and an `expect` simply keeps waiting while a UART is not attached.
 * `attached` and `detached` events are about the debug UART, the driver's
 * sign that interface A is usable.
 */
export interface ConsoleLineSource {
  on(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  off(event: 'line', listener: (line: ConsoleLine) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  close(): Promise<void>;
}

interface Attachment {
  source: ConsoleLineSource;
  unsubscribe: () => void;
}

export class ContinuousConsole extends EventEmitter<{ line: [line: ConsoleLine]; attached: []; detached: [] }> implements BoardConsole {
  readonly #name: string;
  readonly #history: ConsoleHistory;
  readonly #channels: string[];
  readonly #attachments = new Map<string, Attachment>();

  /** `channels`: the outputs this board has (default the debug UART alone). */
  constructor(name: string, options: { maxLines?: number; channels?: readonly string[] } = {}) {
    super();
    this.#name = name;
    this.#channels = [...(options.channels ?? [DEBUG_UART])];
    this.#history = new ConsoleHistory(name, {
      maxLines: options.maxLines ?? 100_000,
      timeoutNote: () => {
        const away = this.#channels.filter((channel) => !this.#attachments.has(channel));
        return away.length ? ` (not attached right now: ${away.join(', ')})` : '';
      },
    });
  }

  /** Whether the debug UART (or the channel named) is attached. */
  get attached(): boolean {
    return this.#attachments.has(DEBUG_UART);
  }

  isAttached(channel: string): boolean {
    return this.#attachments.has(channel);
  }

  channels(): string[] {
    return [...this.#channels];
  }

  get closed(): boolean {
    return this.#history.closed;
  }

  /** Takes the channel's lines from this source from now on; a previous source of it is let go (not closed). */
  attach(source: ConsoleLineSource, channel: string = DEBUG_UART): void {
    if (this.#history.closed) {
      void source.close();
      return;
    }
    if (!this.#channels.includes(channel)) this.#channels.push(channel);
    this.#letGo(channel);
    const onLine = (line: ConsoleLine): void => this.#record(line, channel);
    const onClose = (): void => {
      if (this.#attachments.get(channel)?.source === source) this.#letGo(channel);
    };
    source.on('line', onLine);
    source.on('close', onClose);
    this.#attachments.set(channel, {
      source,
      unsubscribe: () => {
        source.off('line', onLine);
        source.off('close', onClose);
      },
    });
    if (channel === DEBUG_UART) this.emit('attached');
  }

  /** Lets go of the channel's current source and closes it; the history stays. */
  async detach(channel: string = DEBUG_UART): Promise<void> {
    const source = this.#attachments.get(channel)?.source;
    this.#letGo(channel);
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
    await Promise.allSettled([...this.#attachments.keys()].map((channel) => this.detach(channel)));
  }

  #letGo(channel: string): void {
    const attachment = this.#attachments.get(channel);
    if (!attachment) return;
    attachment.unsubscribe();
    this.#attachments.delete(channel);
    if (channel === DEBUG_UART) this.emit('detached');
  }

  #record(from: ConsoleLine, channel: string): void {
    // Lines are renumbered here: each source numbers its own from 1.
    this.emit('line', this.#history.record(from.text, from.timestamp, channel));
  }
}
