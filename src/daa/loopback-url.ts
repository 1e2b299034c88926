import { isIPv4, isIPv6 } from 'node:net';
import { DaaError } from './daa-error.js';

/**
 * The DAA service and its clients stay on this machine: only literal loopback
 * addresses (127.0.0.0/8, ::1). Host names, `localhost` included, are refused:
 * what they resolve to is not ours to guarantee.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return bare.startsWith('127.');
  if (!isIPv6(bare)) return false;
  const lower = bare.toLowerCase();
  return lower === '::1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(lower);
}

/** An http:// URL on loopback, without a trailing slash; `what` names it in errors. */
export function loopbackBaseUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DaaError('url-invalid', 400, `${what}: '${text.slice(0, 200)}' is not a URL (expected http://127.0.0.1:PORT)`);
  }
  if (url.protocol !== 'http:') throw new DaaError('url-invalid', 400, `${what}: only http:// on loopback is supported, got ${url.protocol}`);
  if (!isLoopbackHost(url.hostname)) throw new DaaError('non-loopback-address', 400, `${what}: ${url.hostname} is not a loopback address; the DAA service is local only`);
  return url.toString().replace(/\/+$/, '');
}

/** `127.0.0.1:PORT` (or `[::1]:PORT`) into host and port, loopback only. */
export function parseLoopbackListen(text: string, what: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new DaaError('listen-invalid', 400, `${what}: expected HOST:PORT such as 127.0.0.1:7430, got '${text.slice(0, 100)}'`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const port = Number(match[2]);
  if (!isLoopbackHost(host)) throw new DaaError('non-loopback-address', 400, `${what}: ${host} is not a loopback address; the DAA service is local only`);
  if (port > 65535) throw new DaaError('listen-invalid', 400, `${what}: port ${port} is above 65535`);
  return { host, port };
}
