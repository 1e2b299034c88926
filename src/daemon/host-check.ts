import type { RequestHandler } from 'express';
import { isLoopbackAddress } from '../util/loopback-address.js';
import { HttpError } from './http-errors.js';

/**
 * Refuses requests whose Host header names anything but this machine's loopback
 * (127.x.y.z, [::1], localhost) or a name the rig was told to answer to: a web page
 * that points a name it controls at 127.0.0.1 (DNS rebinding) cannot reach the
 * daemon through a QA engineer's browser, even where a token leaked to it.
 */
export function hostCheck(extraNames: readonly string[] = []): RequestHandler {
  return (req, _res, next) => {
    const refusal = hostRefusal(req.headers.host, extraNames);
    next(refusal ?? undefined);
  };
}

/** The 421 a request naming this Host gets, or null when the daemon answers to it (WebSocket upgrades use it too). */
export function hostRefusal(header: string | undefined, extraNames: readonly string[] = []): HttpError | null {
  const host = hostnameOf(header);
  if (host !== null && (isLoopbackAddress(host) || host.toLowerCase() === 'localhost' || extraNames.some((n) => n.toLowerCase() === host.toLowerCase()))) return null;
  return new HttpError(421, 'host-refused', `this daemon answers to loopback addresses only, not to Host ${JSON.stringify((header ?? '').slice(0, 200))}`);
}

/** The host part of a Host header (`[::1]:8480` gives `[::1]`), or null when it is missing or malformed. */
export function hostnameOf(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return match ? match[1]! : null;
}
