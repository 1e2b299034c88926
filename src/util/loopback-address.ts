import { BlockList, isIP, isIPv6 } from 'node:net';
import { InputError } from './failure.js';

/**
 * The one definition of "a loopback address" and of "HOST:PORT" in sphere-rig.
 *
 * Every server and client of the rig (daemon, DAA service, an emulated board's
 * control channel and REST API) stays on this machine: only literal loopback
 * addresses, 127.0.0.0/8, ::1 (in any spelling) and ::ffff:127.x.y.z. Host names,
 * `localhost` included, are refused because what they resolve to is not ours to
 * guarantee; so are 0.0.0.0 and ::, which mean every interface.
 */

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4'); // also matches ::ffff:127.x.y.z and ::ffff:7f00:1
LOOPBACK.addAddress('::1', 'ipv6'); // also matches 0:0:0:0:0:0:0:1 and the like

/** 0.0.0.0 and ::, in any spelling: every interface, the opposite of loopback. */
const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

/** What every refusal tells the operator to give instead. */
const LOOPBACK_HINT = 'sphere-rig serves and connects on literal loopback addresses only (127.0.0.0/8, ::1)';

/** `[v6]` to `v6`; anything else unchanged. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') && isIPv6(host.slice(1, -1)) ? host.slice(1, -1) : host;
}

/**
 * True only for a literal loopback IP: 127.0.0.0/8, ::1 (also written out, as
 * 0:0:0:0:0:0:0:1), ::ffff:127.x.y.z; an IPv6 address may come in brackets.
 * Host names (`localhost` too), 0.0.0.0, :: and addresses with a zone index are not.
 */
export function isLoopbackAddress(host: string): boolean {
  const bare = unbracket(host);
  if (bare.includes('%')) return false;
  const family = isIP(bare);
  return family === 4 ? LOOPBACK.check(bare, 'ipv4') : family === 6 && LOOPBACK.check(bare, 'ipv6');
}

/** `host:port` for URLs and messages: an IPv6 address in brackets. */
export function formatHostPort(host: string, port: number): string {
  const bare = unbracket(host);
  return `${isIPv6(bare) ? `[${bare}]` : bare}:${port}`;
}

export interface HostPort {
  /** The address without brackets, as `net.listen` and `net.connect` take it. */
  host: string;
  port: number;
}

export interface LoopbackHostPortOptions {
  /**
   * `listen`: port 0 means any free port, errors are `listen-invalid`;
   * `connect`: the port must be 1..65535, errors are `address-invalid`.
   */
  use: 'listen' | 'connect';
  /** Also accept a bare `PORT`, meaning 127.0.0.1:PORT. */
  barePort?: boolean;
}

/**
 * Checks an address already split into host and port: a literal loopback host
 * and a port in range for `use`. `what` names the flag, file and field in errors.
 */
export function checkLoopbackHostPort(endpoint: HostPort, what: string, options: LoopbackHostPortOptions): HostPort {
  const host = unbracket(endpoint.host);
  if (!isLoopbackAddress(host)) throw nonLoopbackError(host, what);
  const min = options.use === 'listen' ? 0 : 1;
  const { port } = endpoint;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new InputError(invalidCode(options), `${what}: port ${String(port)} is not in ${min}..65535${min === 0 ? ' (0: any free port)' : ''}`, { what, port });
  }
  return { host, port };
}

/**
 * `HOST:PORT` or `[V6]:PORT` (and with `barePort`, `PORT`) into a loopback host
 * and a port. Errors are `InputError`s naming `what` and the text given:
 * `listen-invalid` / `address-invalid` for the form and the port,
 * `non-loopback-address` for any other host (`localhost`: give 127.0.0.1).
 */
export function parseLoopbackHostPort(text: string, what: string, options: LoopbackHostPortOptions): HostPort {
  const trimmed = text.trim();
  const shown = JSON.stringify(text.slice(0, 100));
  const invalid = (why: string): InputError => new InputError(invalidCode(options), `${what}: ${why}`, { what, text: text.slice(0, 100) });
  if (options.barePort && /^\d+$/.test(trimmed)) return checkLoopbackHostPort({ host: '127.0.0.1', port: Number(trimmed) }, what, options);
  const match = /^(?:\[([^\]]*)\]|([^:[\]]+)):(\d+)$/.exec(trimmed);
  if (!match) {
    const ipv6 = isIPv6(trimmed) || isIPv6(trimmed.slice(0, trimmed.lastIndexOf(':'))) ? ' (an IPv6 address goes in brackets: [::1]:PORT)' : '';
    throw invalid(`expected HOST:PORT${options.barePort ? ' or PORT' : ''} with a loopback HOST, such as 127.0.0.1:PORT or [::1]:PORT, got ${shown}${ipv6}`);
  }
  const [, bracketed, plain, port] = match;
  if (bracketed !== undefined && !isIPv6(bracketed)) throw invalid(`brackets hold an IPv6 address, got [${bracketed.slice(0, 60)}] in ${shown}`);
  return checkLoopbackHostPort({ host: bracketed ?? plain!, port: Number(port) }, what, options);
}

function invalidCode(options: LoopbackHostPortOptions): string {
  return options.use === 'listen' ? 'listen-invalid' : 'address-invalid';
}

/**
 * The refusal of `host` as not loopback (`non-loopback-address`), naming `what`
 * and saying what to give instead; for callers that check a host themselves.
 */
export function nonLoopbackError(host: string, what: string): InputError {
  // A URL's hostname keeps an IPv6 address's brackets.
  const shown = unbracket(host).slice(0, 100);
  let message: string;
  if (shown.toLowerCase() === 'localhost') {
    message = `${what}: 'localhost' is a host name, not a loopback address: give 127.0.0.1 (or [::1]); host names are refused because what they resolve to is not ours to guarantee`;
  } else if (isIP(shown) !== 0 && UNSPECIFIED.check(shown, isIPv6(shown) ? 'ipv6' : 'ipv4')) {
    message = `${what}: ${shown} is not a loopback address (it means every interface); ${LOOPBACK_HINT}: give 127.0.0.1`;
  } else if (isIP(shown) === 0) {
    message = `${what}: '${shown}' is not a loopback address (host names are refused); ${LOOPBACK_HINT}`;
  } else {
    message = `${what}: ${shown} is not a loopback address; ${LOOPBACK_HINT}`;
  }
  return new InputError('non-loopback-address', message, { what, host: shown });
}

/**
 * An http:// URL on a literal loopback host, as a base without the trailing
 * slash. Errors are `InputError`s (`url-invalid`, `non-loopback-address`)
 * naming `what`: the flag, variable or file the URL came from.
 */
export function loopbackHttpUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError('url-invalid', `${what}: '${text.slice(0, 200)}' is not a URL (expected http://127.0.0.1:PORT)`, { what });
  }
  if (url.protocol !== 'http:') throw new InputError('url-invalid', `${what}: only http:// on loopback is supported, got ${url.protocol}`, { what });
  // A base URL: paths are appended to it, so a query, a fragment or credentials would end up in the wrong place.
  if (url.search || url.hash || url.username || url.password) {
    throw new InputError('url-invalid', `${what}: give a base URL such as http://127.0.0.1:PORT, without a query, fragment or user name`, { what });
  }
  if (!isLoopbackAddress(url.hostname)) throw nonLoopbackError(url.hostname, what);
  return url.toString().replace(/\/+$/, '');
}
