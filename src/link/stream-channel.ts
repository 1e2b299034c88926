import { waitFor } from './deadline.js';
import { LinkClosedError } from './link-errors.js';
import { QueueBackedChannel, type QueueBackedChannelOptions } from './queue-backed-channel.js';
import { RigError } from '../util/failure.js';

/**
 * What StreamChannel needs of a stream: a `serialport` SerialPort, a net.Socket, or a
 * tty.ReadStream on a pseudo-terminal master fd all fit.
 */
export interface ByteStream {
  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close' | 'end', listener: () => void): unknown;
  removeListener(event: 'data' | 'error' | 'close' | 'end', listener: (...args: never[]) => void): unknown;
  /** SerialPort (and fs streams) release their fd through close(callback). */
  close?: ((callback: (error?: Error | null) => void) => void) | undefined;
  /** Other streams release it through destroy(). */
  destroy?: (() => unknown) | undefined;
}

export interface StreamChannelOptions extends QueueBackedChannelOptions {
  /** Close the stream when the channel closes (default true); false only detaches. */
  ownsStream?: boolean;
  /** How long close() waits for the stream to report it closed. */
  closeTimeoutMs?: number;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

/**
 * A ByteChannel over a Node stream: every 'data' chunk goes into the queue, writes
 * resolve on the stream's write callback, and the end, close or error of the stream
 * ends the queue so a waiting read fails at once with LinkClosedError instead of
 * waiting out its timeout.
 */
export class StreamChannel extends QueueBackedChannel {
  private readonly ownsStream: boolean;
  private readonly closeTimeoutMs: number;
  private streamClosed = false;
  private readonly onData = (chunk: Buffer | string): void => {
    this.received(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  };
  private readonly onError = (error: Error): void => {
    this.transportEnded(error);
  };
  private readonly onEnd = (): void => {
    this.transportEnded();
  };
  private readonly onClose = (): void => {
    this.streamClosed = true;
    this.transportEnded();
  };

  constructor(
    private readonly stream: ByteStream,
    options: StreamChannelOptions = {},
  ) {
    super('stream channel', options);
    this.ownsStream = options.ownsStream ?? true;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    stream.on('data', this.onData);
    stream.on('error', this.onError);
    stream.on('end', this.onEnd);
    stream.on('close', this.onClose);
  }

  protected writeBytes(data: Buffer, done: (error?: unknown) => void): void {
    if (this.streamClosed) {
      done(new LinkClosedError(`${this.name}: writing`));
      return;
    }
    this.stream.write(data, (error) => done(error ?? undefined));
  }

  protected async closeTransport(): Promise<void> {
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onEnd);
    if (!this.ownsStream || this.streamClosed) {
      this.detach();
      return;
    }
    const stream = this.stream;
    try {
      await waitFor<void>(`${this.name}: closing the stream`, { timeoutMs: this.closeTimeoutMs }, (settle) => {
        const closedEvent = (): void => settle.resolve();
        stream.on('close', closedEvent);
        if (stream.close) {
          stream.close((error) => {
            if (!error || this.streamClosed) settle.resolve();
            else settle.reject(new RigError('infra-error', 'link-close-failed', `${this.name}: ${error.message}`, {}, { cause: error }));
          });
        } else if (stream.destroy) {
          stream.destroy();
        } else {
          settle.resolve();
        }
        return () => stream.removeListener('close', closedEvent);
      });
    } finally {
      this.detach();
    }
  }

  private detach(): void {
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onEnd);
    this.stream.removeListener('close', this.onClose);
    // The error listener stays: a late error (a pty master reading EIO as the slave
    // closes) must not become an uncaught exception once the channel is gone.
  }
}
