import { isLoopbackAddress, nonLoopbackError } from '../util/loopback-address.js';
import { DaaError } from './daa-error.js';

/**
 * The DAA service and its clients stay on this machine: only literal loopback
 * addresses (src/util/loopback-address.ts). Host names, `localhost` included,
 * are refused: what they resolve to is not ours to guarantee.
 */

/** An http:// URL on loopback, without a trailing slash; `what` names it in errors. */
export function loopbackBaseUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DaaError('url-invalid', 400, `${what}: '${text.slice(0, 200)}' is not a URL (expected http://127.0.0.1:PORT)`);
  }
  if (url.protocol !== 'http:') throw new DaaError('url-invalid', 400, `${what}: only http:// on loopback is supported, got ${url.protocol}`);
  requireLoopbackHost(url.hostname, what);
  return url.toString().replace(/\/+$/, '');
}

/** The rig's refusal of a host that is not loopback, as a DaaError (400, `non-loopback-address`). */
export function requireLoopbackHost(host: string, what: string): void {
  if (isLoopbackAddress(host)) return;
  const refused = nonLoopbackError(host, what);
  throw new DaaError(refused.code, 400, refused.message, refused.details);
}
