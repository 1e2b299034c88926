import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import type { PtyUart } from '../src/emulator/surfaces/pty-uart.js';

/**
 * The stop-and-wait round trip of one XMODEM block over an emulated UART's pty,
 * with no line pacing: the host writes a 133-byte block through serialport, the
 * device side answers one ACK byte as soon as the block is in, the host reads
 * it. What remains of an XMODEM block's time once the line itself is free: the
 * pty, the event loops, the serialport binding. Returns every sample in ms.
 */
const BLOCK_BYTES = 133;
const ACK = 0x06;

export async function measurePtyRoundTrip(uart: PtyUart, samples: number): Promise<number[]> {
  const timing = uart.timing;
  uart.timing = 'fast';
  let pending = 0;
  const echo = (chunk: Buffer): void => {
    pending += chunk.length;
    while (pending >= BLOCK_BYTES) {
      pending -= BLOCK_BYTES;
      void uart.write(Buffer.of(ACK));
    }
  };
  uart.on('data', echo);
  const port = new SerialPort({ path: uart.path, baudRate: 3_000_000, rtscts: true, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  try {
    const block = Buffer.alloc(BLOCK_BYTES, 0x5a);
    const times: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const acked = new Promise<void>((resolve) => port.once('data', () => resolve()));
      const started = performance.now();
      port.write(block);
      await acked;
      times.push(performance.now() - started);
    }
    return times;
  } finally {
    uart.off('data', echo);
    await new Promise<void>((resolve) => port.close(() => resolve()));
    uart.timing = timing;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
