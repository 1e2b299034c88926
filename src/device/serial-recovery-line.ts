import { stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import type { ByteChannel } from '../link/byte-channel.js';
import { Deadline, waitFor } from '../link/deadline.js';
import { StreamChannel } from '../link/stream-channel.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import type { LineCallOptions, RecoveryLine, RecoveryLineSettings } from './recovery-line.js';
import { switchLineInPlace } from './stty-line-switch.js';

const log = componentLogger('recovery-line');
const DEFAULT_OPEN_TIMEOUT_MS = 5_000;
const DEFAULT_PRESENCE_CHECK_MS = 250;
/**
 * Before the line changes, bytes already written must have left: at 115200 baud
 * an answer frame takes about a millisecond, plus USB latency on an FTDI. A pty
 * gives no drain signal at all (tcdrain returns at once), so wait a little.
 */
const SETTLE_BEFORE_SWITCH_MS = 20;

/**
 * The recovery UART of a real or emulated board, opened with `serialport`
 * (8 data bits, no parity, 1 stop bit). On Linux the switch to the imaging
 * line (RTS/CTS, and 3,000,000 baud if agreed) happens on the open port, in
 * place (stty-line-switch.ts): a close would drop RTS and a reopen flush the
 * input, losing the message the device sends at once at the new settings.
 * Elsewhere it falls back to a reopen (`serialport` sets flow control only
 * when it opens a port).
 *
 * When the device side goes away (adapter unplugged, emulator stopped) the tty
 * hangs up and @serialport/bindings-cpp retries its 0-byte reads for ever,
 * spinning a CPU without reporting anything. The device path disappearing is
 * what can be seen, so it is polled and the port closed at once; pending reads
 * then fail with LinkClosedError and `lostReason` says why.
 */
export interface SerialRecoveryLineOptions extends LineCallOptions {
  presenceCheckMs?: number;
  /** How the line changes settings: in place (Linux default) or by closing and reopening the port. */
  switchMode?: 'in-place' | 'reopen';
  /** The stty used for in-place switches; default `stty`. */
  stty?: string;
}

export class SerialRecoveryLine implements RecoveryLine {
  #port: SerialPort;
  #channel: StreamChannel;
  #settings: RecoveryLineSettings;
  #lostReason: string | undefined;
  #closed = false;
  /** A port this line is closing itself (during a reopen), whose close is no loss. */
  #retiring: SerialPort | undefined;
  readonly #presence: NodeJS.Timeout;
  readonly #switchMode: 'in-place' | 'reopen';
  readonly #stty: string | undefined;

  static async open(path: string, settings: RecoveryLineSettings, options: SerialRecoveryLineOptions = {}): Promise<SerialRecoveryLine> {
    const { port, channel } = await openPort(path, settings, options);
    return new SerialRecoveryLine(path, port, channel, settings, options);
  }

  private constructor(
    readonly path: string,
    port: SerialPort,
    channel: StreamChannel,
    settings: RecoveryLineSettings,
    options: SerialRecoveryLineOptions,
  ) {
    this.#port = port;
    this.#channel = channel;
    this.#settings = settings;
    this.#switchMode = options.switchMode ?? (process.platform === 'linux' ? 'in-place' : 'reopen');
    this.#stty = options.stty;
    this.#presence = setInterval(() => this.#checkPresence(), options.presenceCheckMs ?? DEFAULT_PRESENCE_CHECK_MS);
    this.#presence.unref();
    this.#watch(port);
  }

  get channel(): ByteChannel {
    return this.#channel;
  }

  get settings(): RecoveryLineSettings {
    return this.#settings;
  }

  /** How this line changes its settings. */
  get switchMode(): 'in-place' | 'reopen' {
    return this.#switchMode;
  }

  get lostReason(): string | undefined {
    return this.#lostReason;
  }

  async flush(options: LineCallOptions = {}): Promise<void> {
    const port = this.#port;
    await waitFor<void>(`${this.path}: flushing`, { timeoutMs: options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, signal: options.signal }, (settle) => {
      port.flush((error) => (error ? settle.reject(portError('recovery-port-flush-failed', `${this.path}: flush failed: ${error.message}`, error)) : settle.resolve()));
    });
    this.#channel.discard();
  }

  async reconfigure(settings: RecoveryLineSettings, options: LineCallOptions = {}): Promise<void> {
    if (settings.baudRate === this.#settings.baudRate && settings.rtsCts === this.#settings.rtsCts) return;
    if (this.#closed) throw portError('recovery-port-closed', `${this.path}: the port is closed`);
    const port = this.#port;
    // One limit for the whole change: the drain and the reopen share it, not each the full timeout.
    const deadline = new Deadline(options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
    // Everything written goes out at the old speed first; a wedged adapter fails here, named, instead of hanging.
    await waitFor<void>(`${this.path}: draining before the speed change`, { timeoutMs: deadline.remainingMs(), signal: options.signal }, (settle) => {
      port.drain((error) => (error ? settle.reject(portError('recovery-port-drain-failed', `${this.path}: drain failed: ${error.message}`, error)) : settle.resolve()));
    });
    if (this.#switchMode === 'in-place') {
      // No settle pause: stty's own start-up outlasts the last byte's millisecond on the wire, and the device may answer at once.
      await switchLineInPlace(this.path, settings, { timeoutMs: Math.max(1, deadline.remainingMs()), signal: options.signal, stty: this.#stty });
      this.#settings = settings;
      log.debug('line switched in place', { path: this.path, ...settings });
      return;
    }
    await delay(SETTLE_BEFORE_SWITCH_MS, undefined, options.signal ? { signal: options.signal } : {});
    this.#retiring = port;
    await this.#channel.close();
    const reopened = await openPort(this.path, settings, { timeoutMs: deadline.remainingMs(), signal: options.signal });
    if (this.#closed) {
      await reopened.channel.close();
      throw portError('recovery-port-closed', `${this.path}: the port was closed while it was being reopened`);
    }
    this.#port = reopened.port;
    this.#channel = reopened.channel;
    this.#settings = settings;
    this.#watch(reopened.port);
    log.debug('line reconfigured', { path: this.path, ...settings });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#presence);
    await this.#channel.close().catch((error: unknown) => {
      log.warn('closing the recovery port failed', { path: this.path, error: error instanceof Error ? error.message : String(error) });
    });
  }

  /** A port that closes or fails without this line closing it: the device side went away. */
  #watch(port: SerialPort): void {
    const lost = (why: string): void => {
      if (this.#closed || port === this.#retiring || port !== this.#port || this.#lostReason) return;
      this.#lostReason = `${this.path} ${why}`;
      log.warn('recovery port lost', { path: this.path, why });
      void this.close();
    };
    port.on('close', (error?: Error | null) => lost(`closed under us${error ? ` (${error.message})` : ''}`));
    port.on('error', (error: Error) => lost(`failed: ${error.message}`));
  }

  #checkPresence(): void {
    stat(this.path).catch(() => {
      if (this.#closed || this.#lostReason) return;
      this.#lostReason = `${this.path} went away (device unplugged or emulator stopped)`;
      log.warn('recovery port went away', { path: this.path });
      void this.close();
    });
  }
}

async function openPort(path: string, settings: RecoveryLineSettings, options: LineCallOptions): Promise<{ port: SerialPort; channel: StreamChannel }> {
  const port = new SerialPort({
    path,
    baudRate: settings.baudRate,
    rtscts: settings.rtsCts,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    autoOpen: false,
  });
  let abandoned = false;
  try {
    await waitFor<void>(`opening ${path}`, { timeoutMs: options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, signal: options.signal }, (settle) => {
      port.open((error) => {
        if (abandoned) {
          // The wait gave up first: do not leave a late-opened port behind.
          if (!error) port.close();
          return;
        }
        if (error) settle.reject(portError('recovery-port-open-failed', `cannot open ${path}: ${error.message}`, error));
        else settle.resolve();
      });
    });
  } catch (error) {
    abandoned = true;
    throw error;
  }
  return { port, channel: new StreamChannel(port, { name: path }) };
}

function portError(code: string, message: string, cause?: unknown): RigError {
  return new RigError('infra-error', code, message, {}, cause === undefined ? undefined : { cause });
}
