import { isIPv4 } from 'node:net';
import { isLoopbackAddress } from '../../util/loopback-address.js';

/** 192.168.35.1..254: the SLIP service link of real boards (device-link.md). */
export function isServiceLinkAddress(host: string): boolean {
  if (!isIPv4(host) || !host.startsWith('192.168.35.')) return false;
  const last = Number(host.split('.')[3]);
  return last >= 1 && last <= 254;
}

/**
 * The only places a device REST client may talk to: a literal loopback address
 * (an emulated board's service link; src/util/loopback-address.ts) or the
 * service link of a real board. Anything else, host names included, is refused
 * before a byte is sent: a rig must never reach into other networks by a typo.
 */
export function isDeviceLinkAddress(host: string): boolean {
  return isLoopbackAddress(host) || isServiceLinkAddress(host);
}
