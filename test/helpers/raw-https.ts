import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';

/**
 * One HTTPS exchange with full control of what is sent (any method, path,
 * headers and body, malformed ones included), independent of the client under
 * test. Loopback only; the server is checked against the pinned CA and the
 * device host name, as a real client checks it.
 */
export interface RawExchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  port: number;
  ca: string | Buffer;
  method: string;
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
}

export const DEVICE_HOST = '*.devices.sphere.azure.local';

export function rawHttps(spec: RawRequest): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const body = typeof spec.body === 'string' ? Buffer.from(spec.body) : spec.body;
    const req = request(
      {
        host: '127.0.0.1',
        port: spec.port,
        method: spec.method,
        path: spec.path,
        ca: spec.ca,
        servername: '',
        checkServerIdentity: (_host, cert) => checkServerIdentity(DEVICE_HOST, cert),
        agent: false,
        headers: { Host: DEVICE_HOST, Accept: 'application/json', ...(body && !spec.chunked ? { 'Content-Length': body.length } : {}), ...spec.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          // An upload cut short by the answer leaves the request unfinished: drop it.
          if (!req.writableFinished) req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`${spec.method} ${spec.path}: no answer in ${spec.timeoutMs ?? 10_000} ms`)), spec.timeoutMs ?? 10_000);
    // Once the answer is in, a failing upload (the server stopped reading) does not matter.
    let answered = false;
    req.on('response', () => (answered = true));
    // Writes still queued when the server hangs up fail on the socket itself; they are reported through req.
    req.on('socket', (socket) => socket.on('error', () => undefined));
    req.on('error', (error) => {
      if (answered) return;
      clearTimeout(timer);
      reject(error);
    });
    if (!body) req.end();
    else if (!spec.chunked) req.end(body);
    else {
      let offset = 0;
      const pump = (): void => {
        while (offset < body.length && !answered) {
          const more = req.write(body.subarray(offset, offset + 65536));
          offset += 65536;
          if (!more) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    }
  });
}

export const jsonOf = (exchange: RawExchange): unknown => JSON.parse(exchange.body.toString('utf8'));
