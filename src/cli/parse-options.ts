import { InputError } from '../util/failure.js';
import { parseLoopbackHostPort, type HostPort, type LoopbackHostPortOptions } from '../util/loopback-address.js';
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
  try {
    return parseLoopbackHostPort(text, flag, options);
  } catch (error) {
    throw error instanceof InputError ? new UsageError(error.message) : error;
  }
}
