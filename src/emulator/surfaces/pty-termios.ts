import { execFile } from 'node:child_process';
import { RigError } from '../../util/failure.js';

/**
 * The termios of a pseudo-terminal slave, read and set with the system's `stty`
 * (GNU coreutils, Linux: `-F`). Node has no termios ioctl of its own: its
 * `tty.ReadStream#setRawMode` is libuv's UV_TTY_MODE_RAW, which leaves OPOST and
 * ONLCR on (a "\n" the host writes would reach the device as "\r\n"), so it is
 * not enough for an 8-bit clean line. Each call costs a process spawn (a few ms).
 */

/**
 * The line settings a host has put on a pty, as the device side can learn them.
 * On a real UART the device cannot see them at all (a mismatch just garbles
 * bytes); the emulator reads them so it can model that.
 */
export interface HostLineSettings {
  /**
   * Bits per second the host set, or null when the host set a non-standard rate
   * through termios2/BOTHER (what `serialport` does for rates without a Bxxx
   * constant, e.g. 250000): the pty accepts it, but the rate itself is only in
   * c_ospeed, which only the TCGETS2 ioctl returns; `stty` reports 0.
   */
  baudRate: number | null;
  /** CRTSCTS: the host asked for hardware flow control. */
  rtsCts: boolean;
  /** CSTOPB. Data bits and parity are not reported: Linux forces CS8 and clears PARENB on every pty. */
  stopBits: 1 | 2;
}

// Linux <asm-generic/termbits.h>: the CBAUD field of c_cflag and its codes.
const CBAUD = 0o010017;
const BOTHER = 0o010000;
const CRTSCTS = 0x80000000;
const CSTOPB = 0o000100;
const LINUX_BAUD_CODES: ReadonlyMap<number, number> = new Map([
  [0o000000, 0], [0o000001, 50], [0o000002, 75], [0o000003, 110], [0o000004, 134],
  [0o000005, 150], [0o000006, 200], [0o000007, 300], [0o000010, 600], [0o000011, 1200],
  [0o000012, 1800], [0o000013, 2400], [0o000014, 4800], [0o000015, 9600], [0o000016, 19200],
  [0o000017, 38400], [0o010001, 57600], [0o010002, 115200], [0o010003, 230400],
  [0o010004, 460800], [0o010005, 500000], [0o010006, 576000], [0o010007, 921600],
  [0o010010, 1000000], [0o010011, 1152000], [0o010012, 1500000], [0o010013, 2000000],
  [0o010014, 2500000], [0o010015, 3000000], [0o010016, 3500000], [0o010017, 4000000],
]);

/** What cfmakeraw(3) does, plus no echo: no translation, no signals, no flow control, 8 bits. */
const RAW_MODE_ARGS = ['raw', '-echo', '-echonl', '-iexten', 'cs8', '-parenb'];

export interface SttyCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Puts the pty slave in raw mode. Settings belong to the tty, not to an fd: they last while any fd stays open. */
export async function makePtyRaw(slavePath: string, options: SttyCallOptions = {}): Promise<void> {
  await runStty(slavePath, RAW_MODE_ARGS, options);
}

/**
 * Reads the line settings the host has set. A pty gives the master no notice of
 * a termios change, so a device side that cares must ask again when it expects
 * the host to have switched (e.g. to 3,000,000 baud for recovery imaging).
 */
export async function readPtyLineSettings(slavePath: string, options: SttyCallOptions = {}): Promise<HostLineSettings> {
  return parseSttySaveFormat(await runStty(slavePath, ['-g'], options));
}

/**
 * Decodes `stty -g` output (`iflag:oflag:cflag:lflag:cc...`, all hex). Parsed
 * rather than the readable -a because it is locale-free and exposes the raw
 * CBAUD code, the only way to tell a custom rate (BOTHER) from B0.
 */
export function parseSttySaveFormat(text: string): HostLineSettings {
  const fields = text.trim().split(':');
  const cflag = fields.length >= 4 && /^[0-9a-f]+$/i.test(fields[2] ?? '') ? Number.parseInt(fields[2] ?? '', 16) : Number.NaN;
  if (!Number.isFinite(cflag)) {
    throw new RigError('infra-error', 'stty-output-unreadable', `cannot read line settings from stty output '${text.trim()}'`);
  }
  const code = cflag & CBAUD;
  const baudRate = code === BOTHER ? null : (LINUX_BAUD_CODES.get(code) ?? null);
  return { baudRate, rtsCts: (cflag & CRTSCTS) !== 0, stopBits: cflag & CSTOPB ? 2 : 1 };
}

function runStty(slavePath: string, args: string[], options: SttyCallOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    execFile(
      'stty',
      ['-F', slavePath, ...args],
      { timeout: timeoutMs, signal: options.signal, env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const what = `stty ${args.join(' ')} on ${slavePath}`;
        if (options.signal?.aborted) {
          reject(new RigError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: error }));
        } else if ((error as { killed?: boolean }).killed) {
          reject(new RigError('timeout', 'stty-timeout', `${what} took longer than ${timeoutMs} ms`, {}, { cause: error }));
        } else {
          const reason = String(stderr).trim() || error.message;
          reject(new RigError('infra-error', 'stty-failed', `${what} failed: ${reason}`, {}, { cause: error }));
        }
      },
    );
  });
}
