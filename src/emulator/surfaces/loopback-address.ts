import { isIPv4, isIPv6 } from 'node:net';

/**
 * True only for a literal loopback IP (127.0.0.0/8, ::1, ::ffff:127.x.y.z).
 * Host names, "localhost" included, are refused: what they resolve to is not
 * ours to guarantee, and an emulator must never listen beyond this machine.
 */
export function isLoopbackAddress(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  if (!isIPv6(host)) return false;
  const lower = host.toLowerCase();
  if (lower === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(lower)) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped !== null && isIPv4(mapped[1] ?? '') && (mapped[1] ?? '').startsWith('127.');
}
