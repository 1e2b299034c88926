import { InputError } from '../util/failure.js';
import { checkLoopbackHostPort, loopbackHttpUrl, type HostPort } from '../util/loopback-address.js';
import { DaaError } from './daa-error.js';

/**
 * The DAA service and its clients stay on this machine (src/util/loopback-address.ts);
 * here the rig's refusals become DaaErrors (400) with the same codes and messages.
 */

/** An http:// URL on loopback, without a trailing slash; `what` names it in errors. */
export function loopbackBaseUrl(text: string, what: string): string {
  return asDaaError(() => loopbackHttpUrl(text, what));
}

/** Where the standalone service listens: a literal loopback host (brackets dropped) and a port 0..65535. */
export function loopbackListenAddress(endpoint: HostPort, what: string): HostPort {
  return asDaaError(() => checkLoopbackHostPort(endpoint, what, { use: 'listen' }));
}

function asDaaError<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new DaaError(error.code, 400, error.message, error.details);
  }
}
