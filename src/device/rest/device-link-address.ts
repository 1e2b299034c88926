import { isIPv4, isIPv6 } from 'node:net';

/**
 * The only places a device REST client may talk to: a literal loopback address
 * (an emulated board's service link) or 192.168.35.1..254, the SLIP service
 * link of real boards (device-link.md). Anything else, host names included,
 * is refused before a byte is sent: a rig must never reach into other
 * networks by a typo. Mirrored from the emulator's loopback check rather than
 * imported, because host code does not depend on emulator code.
 */
export function isLoopbackLiteral(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  const lower = host.toLowerCase();
  return isIPv6(lower) && (lower === '::1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(lower));
}

export function isServiceLinkAddress(host: string): boolean {
  if (!isIPv4(host) || !host.startsWith('192.168.35.')) return false;
  const last = Number(host.split('.')[3]);
  return last >= 1 && last <= 254;
}

export function isDeviceLinkAddress(host: string): boolean {
  return isLoopbackLiteral(host) || isServiceLinkAddress(host);
}
