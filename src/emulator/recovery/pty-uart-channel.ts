import { QueueBackedChannel } from '../../link/queue-backed-channel.js';
import type { PtyUart } from '../surfaces/pty-uart.js';

/**
 * The device's end of a UART as a ByteChannel, so the link layer's XMODEM and
 * frame code runs on the emulator side exactly as on the host. One channel per
 * recovery session: bytes the host sent before it was attached are not seen, and
 * closing it only detaches (the UART lives on for the next session). Writes
 * carry the session's signal, so bytes still queued when a reset ends the session
 * are dropped instead of reaching the host.
 */
export class PtyUartChannel extends QueueBackedChannel {
  private readonly onData = (chunk: Buffer): void => this.received(chunk);

  constructor(
    private readonly uart: PtyUart,
    private readonly signal?: AbortSignal,
  ) {
    super(`${uart.name} (device side)`, {});
    uart.on('data', this.onData);
  }

  protected writeBytes(data: Buffer, done: (error?: unknown) => void): void {
    this.uart.write(data, this.signal ? { signal: this.signal } : {}).then(
      () => done(),
      (error: unknown) => done(error),
    );
  }

  protected async closeTransport(): Promise<void> {
    this.uart.off('data', this.onData);
  }
}
