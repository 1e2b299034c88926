import { InputError } from '../util/failure.js';
import { loopbackHttpUrl, parseLoopbackHostPort, type HostPort, type LoopbackHostPortOptions } from '../util/loopback-address.js';
import { UsageError } from './action.js';

/** An integer flag within bounds, or a usage error naming the flag. */
export function parseCount(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A `HOST:PORT` flag on loopback (src/util/loopback-address.ts), or a usage error naming the flag. */
export function parseLoopbackFlag(text: string, flag: string, options: LoopbackHostPortOptions): HostPort {
  return asUsageError(() => parseLoopbackHostPort(text, flag, options));
}

/** An http:// URL on loopback given as a flag (`--daemon`, `--daa-url`, `--service`), or a usage error naming the flag. */
export function parseLoopbackUrlFlag(text: string, flag: string): string {
  return asUsageError(() => loopbackHttpUrl(text, flag));
}

/** A bad flag value is the user's usage error (exit 2), whatever layer refused it. */
function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof InputError ? new UsageError(error.message) : error;
  }
}
