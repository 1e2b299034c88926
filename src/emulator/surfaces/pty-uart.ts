import { EventEmitter, once } from 'node:events';
import { closeSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import tty from 'node:tty';
import { createRequire } from 'node:module';
import { componentLogger } from '../../util/logger.js';
import { RigError } from '../../util/failure.js';
import { makePtyRaw, readPtyLineSettings, type HostLineSettings, type SttyCallOptions } from './pty-termios.js';

const log = componentLogger('pty-uart');

/** 'fast': bytes move as fast as the kernel takes them (tests). 'real': paced at the baud rate, 10 bits a byte (8N1). */
export type UartTiming = 'fast' | 'real';

/**
 * What the device does when the host is not draining the line (the pty's buffer,
 * about 15 KiB on Linux, is full). 'rts-cts': wait, as a UART with hardware flow
 * control does (service and recovery UARTs). 'none': after `stallLimitMs` without
 * progress drop what does not fit and count it, as a real debug UART loses its
 * output when nobody listens; it then keeps dropping at once until the host
 * drains again, so a console nobody reads never slows the emulator down.
 */
export type UartFlowControl = 'none' | 'rts-cts';

export interface PtyUartOptions {
  /** For logs: 'debug', 'service', 'recovery'. */
  name: string;
  baudRate?: number;
  timing?: UartTiming;
  flowControl?: UartFlowControl;
  stallLimitMs?: number;
}

export interface PtyUartEvents {
  /** Bytes the host sent (host → device). */
  data: [chunk: Buffer];
  /** Bytes the device sent were dropped because the host was not reading. */
  overrun: [info: { droppedBytes: number }];
  error: [error: Error];
}

/** The part of node-pty's native module we use: openpty(3), both fds non-blocking. */
interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

// Real timing moves bytes in slices of about this many milliseconds of line time.
const SLICE_MS = 10;
const BITS_PER_BYTE = 10;
const MAX_RETRY_MS = 20;
/**
 * Timers fire a millisecond or more late, and never sooner than 1 ms: a paced
 * wait sleeps on a timer until this long before its deadline, then yields turn
 * by turn (I/O keeps flowing) until the deadline. At 3 Mbaud a 133-byte XMODEM
 * block is 0.44 ms of line time; a timer alone would more than double it.
 */
const TIMER_SLACK_MS = 2;
/**
 * A wait shorter than this is not taken: one turn of the event loop costs about
 * as much. The schedule itself stays exact (the next slice is due from this
 * one's due time), so the error never exceeds this and never adds up.
 */
const NEGLIGIBLE_WAIT_MS = 0.05;

/**
 * One emulated UART as a real pseudo-terminal: the host opens `path` with
 * `serialport` exactly as it would open /dev/ttyUSBn. The emulator owns the
 * master; it also holds one slave fd for the UART's whole life and never reads
 * it, so the tty (and its raw settings) survive host open/close cycles and the
 * master never sees EIO while no host has the port open.
 */
export class PtyUart extends EventEmitter<PtyUartEvents> {
  readonly name: string;
  /** The slave device path the host opens, e.g. /dev/pts/3. */
  readonly path: string;
  readonly flowControl: UartFlowControl;
  timing: UartTiming;

  private currentBaudRate: number;
  private readonly stallLimitMs: number;
  private readonly masterFd: number;
  private readonly slaveFd: number;
  private readonly master: tty.ReadStream;
  private readonly lifetime = new AbortController();
  private writeTail: Promise<void> = Promise.resolve();
  private txLineFreeAt = 0;
  private rxLineFreeAt = 0;
  private receiving: Promise<void> = Promise.resolve();
  private receivesPending = 0;
  private overrunning = false;
  private dropped = 0;
  private closing: Promise<void> | undefined;

  /** Opens a pty and makes its slave raw before anyone learns its path. */
  static async open(options: PtyUartOptions): Promise<PtyUart> {
    checkBaudRate(options.baudRate ?? 115200); // before any fd exists
    const native = loadNativePty();
    if (!native) throw new RigError('infra-error', 'pty-unsupported', 'pseudo-terminals are not available on this platform');
    let fds: { master: number; slave: number; pty: string };
    try {
      fds = native.open(80, 24);
    } catch (error) {
      throw new RigError('infra-error', 'pty-open-failed', `cannot open a pseudo-terminal: ${(error as Error).message}`, {}, { cause: error });
    }
    const uart = new PtyUart(options, fds);
    try {
      await makePtyRaw(uart.path);
    } catch (error) {
      await uart.close();
      throw error;
    }
    log.debug('uart open', { uart: uart.name, path: uart.path });
    return uart;
  }

  private constructor(options: PtyUartOptions, fds: { master: number; slave: number; pty: string }) {
    super();
    this.name = options.name;
    this.path = fds.pty;
    this.flowControl = options.flowControl ?? 'none';
    this.timing = options.timing ?? 'fast';
    this.currentBaudRate = checkBaudRate(options.baudRate ?? 115200);
    this.stallLimitMs = options.stallLimitMs ?? 1000;
    this.masterFd = fds.master;
    this.slaveFd = fds.slave;
    // Reads go through libuv (readiness-driven). Writes do not: libuv treats a
    // pty master as a blocking-write tty and spins on EAGAIN; a 100 KiB write
    // nobody reads froze the event loop for good when tried. See deliver().
    this.master = new tty.ReadStream(fds.master);
    this.master.on('data', (chunk: Buffer) => this.receive(chunk));
    this.master.on('error', (error) => this.fail(error));
  }

  /** The rate the device side's UART runs at; used for pacing under real timing. */
  get baudRate(): number {
    return this.currentBaudRate;
  }

  set baudRate(value: number) {
    this.currentBaudRate = checkBaudRate(value);
  }

  /** Bytes dropped so far because the host was not reading (flow control 'none' only). */
  get droppedBytes(): number {
    return this.dropped;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Device → host. Resolves once the bytes are in the pty (under real timing:
   * once the last one has been clocked out) or, without flow control, dropped.
   * Writes are sent in call order.
   */
  /**
   * One text line as the device prints it (CRLF), fire and forget: what the host
   * does not read is the UART's business (dropped without flow control), and a
   * UART closing under the board is no error of the board's.
   */
  writeLine(text: string): void {
    this.write(`${text}\r\n`).catch(() => undefined);
  }

  write(data: Buffer | string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (this.closed) return Promise.reject(closedError(this.name));
    // The bytes are in the device's UART from now: line time runs from here, or from when the line is free.
    const queuedAt = performance.now();
    const run = this.writeTail.then(() => this.transmit(bytes, options.signal, queuedAt));
    this.writeTail = run.catch(() => undefined);
    return run;
  }

  /** The host's current termios (baud rate, RTS/CTS, stop bits); see pty-termios.ts for limits. */
  readHostLineSettings(options: SttyCallOptions = {}): Promise<HostLineSettings> {
    if (this.closed) return Promise.reject(closedError(this.name));
    return readPtyLineSettings(this.path, options);
  }

  /** Releases both fds; a host with the port open sees a hang-up, like an unplugged adapter. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.lifetime.abort();
      if (!this.master.closed) {
        const closed = once(this.master, 'close');
        this.master.destroy();
        await closed;
      }
      closeSync(this.slaveFd);
      log.debug('uart closed', { uart: this.name, path: this.path, droppedBytes: this.dropped });
    })();
    return this.closing;
  }

  /**
   * Under real timing the line keeps an absolute schedule: each slice is due
   * exactly its line time after the previous one (or after the write, if the
   * line was idle), whenever the timer really fired, so lateness never adds up.
   * Only flow control holding the line (the host not reading) moves it on.
   */
  private async transmit(bytes: Buffer, signal: AbortSignal | undefined, queuedAt: number): Promise<void> {
    if (this.timing === 'fast') {
      await this.deliver(bytes, signal);
      return;
    }
    let lineFreeAt = Math.max(queuedAt, this.txLineFreeAt);
    for (let offset = 0; offset < bytes.length; ) {
      const slice = bytes.subarray(offset, offset + this.bytesPerSlice());
      // A byte reaches the far end once its 10 bits have been clocked out.
      const due = lineFreeAt + this.lineTimeMs(slice.length);
      await this.sleepUntil(due, signal, true);
      const stalled = await this.deliver(slice, signal);
      lineFreeAt = stalled ? Math.max(due, performance.now()) : due;
      this.txLineFreeAt = lineFreeAt;
      offset += slice.length;
    }
  }

  /**
   * Puts bytes into the master. The fd is non-blocking, so a full pty answers
   * EAGAIN; Node offers no writability event for a bare fd, so we retry on a
   * short backoff (this only happens while the host is not reading). Resolves
   * whether it had to wait for the host (the line was held).
   */
  private async deliver(bytes: Buffer, signal: AbortSignal | undefined): Promise<boolean> {
    let offset = 0;
    let stalledSince: number | undefined;
    let retryMs = 1;
    let held = false;
    while (offset < bytes.length) {
      if (this.closed) throw closedError(this.name);
      throwIfCancelled(signal, this.name);
      let written = 0;
      try {
        written = writeSync(this.masterFd, bytes, offset, bytes.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') {
          throw new RigError('infra-error', 'uart-write-failed', `uart ${this.name}: write failed: ${(error as Error).message}`, {}, { cause: error });
        }
      }
      if (written > 0) {
        offset += written;
        stalledSince = undefined;
        retryMs = 1;
        this.overrunning = false;
        continue;
      }
      const now = performance.now();
      stalledSince ??= now;
      held = true;
      if (this.flowControl === 'none' && (this.overrunning || now - stalledSince >= this.stallLimitMs)) {
        this.drop(bytes.length - offset);
        return true;
      }
      await this.sleepUntil(now + retryMs, signal, false);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
    return held;
  }

  private drop(count: number): void {
    if (!this.overrunning) log.debug('host not reading: dropping device output', { uart: this.name });
    this.overrunning = true;
    this.dropped += count;
    this.emit('overrun', { droppedBytes: count });
  }

  /** Host → device. Under real timing the stream is paused while bytes are "on the wire", which backpressures the host. */
  private receive(chunk: Buffer): void {
    if (this.timing === 'fast' && this.receivesPending === 0) {
      this.emit('data', chunk);
      return;
    }
    const arrivedAt = performance.now();
    this.master.pause();
    this.receivesPending += 1;
    this.receiving = this.receiving
      .then(() => this.paceReceived(chunk, arrivedAt))
      .catch((error: unknown) => {
        if (!this.closed) this.fail(error as Error);
      })
      .finally(() => {
        this.receivesPending -= 1;
        if (!this.closed && this.receivesPending === 0) this.master.resume();
      });
  }

  /** The chunk went on the wire when it arrived, or when the bytes before it were through; then on an absolute schedule. */
  private async paceReceived(chunk: Buffer, arrivedAt: number): Promise<void> {
    let lineFreeAt = Math.max(arrivedAt, this.rxLineFreeAt);
    for (let offset = 0; offset < chunk.length; ) {
      // Timing may have been switched to 'fast' while this chunk waited.
      if (this.timing === 'fast') {
        this.emit('data', chunk.subarray(offset));
        return;
      }
      const slice = chunk.subarray(offset, offset + this.bytesPerSlice());
      const due = lineFreeAt + this.lineTimeMs(slice.length);
      await this.sleepUntil(due, undefined, true);
      lineFreeAt = due;
      this.rxLineFreeAt = due;
      this.emit('data', slice);
      offset += slice.length;
    }
  }

  private bytesPerSlice(): number {
    return Math.max(1, Math.floor((this.currentBaudRate / BITS_PER_BYTE) * (SLICE_MS / 1000)));
  }

  private lineTimeMs(byteCount: number): number {
    return (byteCount * BITS_PER_BYTE * 1000) / this.currentBaudRate;
  }

  /** `precise`: line time, kept to the deadline (see TIMER_SLACK_MS); otherwise a retry backoff, where a timer is close enough. */
  private async sleepUntil(deadline: number, signal: AbortSignal | undefined, precise: boolean): Promise<void> {
    const waitMs = deadline - performance.now();
    if (waitMs <= (precise ? NEGLIGIBLE_WAIT_MS : 0)) return;
    const signals = signal ? AbortSignal.any([signal, this.lifetime.signal]) : this.lifetime.signal;
    try {
      if (!precise) {
        await delay(waitMs, undefined, { signal: signals });
        return;
      }
      if (waitMs > TIMER_SLACK_MS) await delay(waitMs - TIMER_SLACK_MS, undefined, { signal: signals });
      while (performance.now() < deadline) await nextTurn(undefined, { signal: signals });
    } catch {
      if (this.closed) throw closedError(this.name);
      throwIfCancelled(signal, this.name);
      throw new RigError('infra-error', 'uart-wait-failed', `uart ${this.name}: wait interrupted`);
    }
  }

  private fail(error: Error): void {
    log.warn('uart error', { uart: this.name, error: error.message });
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * node-pty's native openpty(), without its UnixTerminal.open (which starts
 * reading the slave, stealing the host's bytes). Loaded with require because
 * `native` is not in node-pty's typings and ESM default-import interop of this
 * CommonJS module differs between Node and tsx.
 */
function loadNativePty(): NativePty | null {
  const require = createRequire(import.meta.url);
  return (require('node-pty') as { native: NativePty | null }).native;
}

function checkBaudRate(value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RigError('infra-error', 'invalid-baud-rate', `baud rate must be a positive integer, got ${value}`);
  }
  return value;
}

function closedError(name: string): RigError {
  return new RigError('infra-error', 'uart-closed', `uart ${name} is closed`);
}

function throwIfCancelled(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new RigError('cancelled', 'cancelled', `uart ${name}: write cancelled`, {}, { cause: signal.reason });
}
