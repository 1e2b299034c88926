import { execFile } from 'node:child_process';
import { waitFor, type WaitOptions } from '../link/deadline.js';
import { RigError } from '../util/failure.js';
import type { RecoveryLineSettings } from './recovery-line.js';

/**
 * Changes the speed and RTS/CTS flow control of a tty that is open elsewhere
 * in this process, without closing, reopening or flushing it.
 *
 * Why stty: termios settings belong to the tty, not to a descriptor, so
 * `stty -F <tty>` from another process changes the port serialport holds open.
 * GNU stty applies them with tcsetattr(TCSADRAIN): bytes already written go
 * out first, nothing received is thrown away. serialport itself cannot do
 * this: its `update({baudRate})` (bindings-cpp 13) calls tcflush(TCIOFLUSH)
 * before tcsetattr, discarding what the device already sent, and flow control
 * is set only when a port is opened.
 */
export interface SttyOptions extends WaitOptions {
  /** The stty binary; default `stty` (GNU coreutils: needs -F). */
  stty?: string;
}

export function sttyArguments(path: string, settings: RecoveryLineSettings): string[] {
  return ['-F', path, String(settings.baudRate), settings.rtsCts ? 'crtscts' : '-crtscts'];
}

export async function switchLineInPlace(path: string, settings: RecoveryLineSettings, options: SttyOptions): Promise<void> {
  const file = options.stty ?? 'stty';
  const args = sttyArguments(path, settings);
  await waitFor<void>(`${path}: switching to ${settings.baudRate} baud${settings.rtsCts ? ' with RTS/CTS' : ''} in place`, options, (settle) => {
    const child = execFile(file, args, { timeout: Math.max(1, options.timeoutMs) }, (error, _stdout, stderr) => {
      if (!error) return settle.resolve();
      const said = String(stderr).trim() || error.message;
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      settle.reject(
        new RigError(
          'infra-error',
          missing ? 'stty-missing' : 'recovery-line-switch-failed',
          missing ? `${file} is not installed (coreutils): the recovery line cannot change speed in place` : `${[file, ...args].join(' ')} failed: ${said}`,
          { path, ...settings },
          { cause: error },
        ),
      );
    });
    return () => {
      if (child.exitCode === null) child.kill();
    };
  });
}
