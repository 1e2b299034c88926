import { UsageError } from './action.js';

/** An integer flag within bounds, or a usage error naming the flag. */
export function parseCount(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}
