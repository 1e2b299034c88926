import { InputError } from '../util/failure.js';
import { isLoopbackAddress, loopbackHttpUrl, nonLoopbackError } from '../util/loopback-address.js';
import { DaaError } from './daa-error.js';

/**
 * The DAA service and its clients stay on this machine: only literal loopback
 * addresses (src/util/loopback-address.ts). Host names, `localhost` included,
 * are refused: what they resolve to is not ours to guarantee.
 */

/** An http:// URL on loopback, without a trailing slash; `what` names it in errors (a DaaError, 400). */
export function loopbackBaseUrl(text: string, what: string): string {
  try {
    return loopbackHttpUrl(text, what);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new DaaError(error.code, 400, error.message, error.details);
  }
}

/** The rig's refusal of a host that is not loopback, as a DaaError (400, `non-loopback-address`). */
export function requireLoopbackHost(host: string, what: string): void {
  if (isLoopbackAddress(host)) return;
  const refused = nonLoopbackError(host, what);
  throw new DaaError(refused.code, 400, refused.message, refused.details);
}
