import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { InputError } from '../../util/failure.js';
import { isDeviceLinkAddress } from './device-link-address.js';
import { DeviceRestError } from './device-rest-errors.js';

/**
 * HTTPS to one board's REST API the way Microsoft's own client does it: the
 * `Host: *.devices.sphere.azure.local` and `Accept: application/json` headers
 * on every request, the server's certificate checked against the pinned CA
 * only (no system roots) and against that host name, never against the
 * address dialled. The same code reaches https://192.168.35.N (a real board)
 * and https://127.0.0.1:PORT (an emulated one); nothing else is allowed.
 * Every request has a deadline and honours an AbortSignal.
 */
export const DEVICE_REST_HOST = '*.devices.sphere.azure.local';
export const CAPABILITY_HEADER = 'AZSPHERE-CAPABILITIES';
export const API_VERSION_HEADER = 'rest-api-version';

export type RestMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface DeviceRestTransportOptions {
  /** `https://192.168.35.2` or `https://127.0.0.1:PORT`; no path. */
  baseUrl: string;
  /** The CA certificate(s) the device's TLS certificate must chain to (PEM). */
  caPem: string | Buffer;
  /** A signed capability image sent as AZSPHERE-CAPABILITIES with every request. */
  capabilityImage?: Buffer;
  /** Deadline of a call that sets none; default 10 s. */
  timeoutMs?: number;
}

export interface RestRequest {
  method: RestMethod;
  path: string;
  body?: Buffer;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called as the body leaves: bytes handed to the connection so far, and the total. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** A longer answer is cut off as a bad reply; default 4 MiB. */
  maxResponseBytes?: number;
}

export interface RestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The REST-API-Version header, when the device sent one. */
  apiVersion: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const UPLOAD_CHUNK_BYTES = 64 * 1024;
/** HTTP-idempotent methods: repeating one after a stale connection is safe (staging an image again replaces it). */
const IDEMPOTENT: ReadonlySet<RestMethod> = new Set(['GET', 'PUT', 'DELETE']);
/** Idle pooled connections are dropped before a device's keep-alive (5 s on the emulator) can close them under us. */
const IDLE_SOCKET_MS = 4_000;
/** OpenSSL and Node codes of a certificate the pinned CA or the host name does not vouch for. */
const TLS_REJECTION = /CERT|SIGNATURE|ISSUER|SELF_SIGNED|ERR_TLS|ERR_SSL/;

export class DeviceRestTransport {
  readonly origin: string;
  readonly #host: string;
  readonly #port: number;
  readonly #agent: Agent;
  readonly #tls: Pick<AgentOptions, 'ca' | 'minVersion' | 'checkServerIdentity'>;
  readonly #capability: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: DeviceRestTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new InputError('bad-device-url', `device URL ${JSON.stringify(options.baseUrl)} is not a URL (e.g. https://192.168.35.2)`);
    }
    if (url.protocol !== 'https:') throw new InputError('bad-device-url', `device URL ${url.href}: the device REST API is HTTPS only`);
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
      throw new InputError('bad-device-url', `device URL ${url.href}: give only scheme, address and port`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!isDeviceLinkAddress(host)) {
      throw new InputError('non-device-address', `device URL ${url.href}: a board is reached only on loopback (emulated) or 192.168.35.1-254 (service link); refusing '${host}'`, { host });
    }
    this.#host = host;
    this.#port = url.port ? Number(url.port) : 443;
    this.origin = url.origin;
    this.#capability = options.capabilityImage?.toString('base64');
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const ca = Buffer.isBuffer(options.caPem) ? options.caPem.toString('utf8') : options.caPem;
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new InputError('bad-ca', 'the pinned CA must be a PEM certificate');
    this.#tls = {
      ca,
      minVersion: 'TLSv1.2',
      // The device's name, not the address dialled: what its certificate is for.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(DEVICE_REST_HOST, cert),
    };
    this.#agent = new Agent({ keepAlive: true, maxSockets: 4, timeout: IDLE_SOCKET_MS, ...this.#tls });
  }

  async send(request: RestRequest): Promise<RestResponse> {
    try {
      return await this.#attempt(request);
    } catch (error) {
      // A kept-alive connection the device closed meanwhile (a restart): one fresh try, if safe to repeat.
      // On a connection of its own: the other pooled ones may be just as stale.
      if (error instanceof StaleConnection && IDEMPOTENT.has(request.method)) return this.#attempt(request, false);
      throw error instanceof StaleConnection ? error.reported : error;
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#agent.destroy();
  }

  #attempt(spec: RestRequest, pooled = true): Promise<RestResponse> {
    const what = `${spec.method} ${spec.path}`;
    const timeoutMs = spec.timeoutMs ?? this.#timeoutMs;
    const signal = spec.signal;
    if (signal?.aborted) return Promise.reject(cancelled(what, signal));
    const headers: OutgoingHttpHeaders = { Host: DEVICE_REST_HOST, Accept: 'application/json' };
    if (this.#capability) headers[CAPABILITY_HEADER] = this.#capability;
    if (spec.body) {
      headers['Content-Type'] = spec.contentType ?? 'application/octet-stream';
      headers['Content-Length'] = spec.body.length;
    } else if (spec.method !== 'GET' && spec.method !== 'DELETE') {
      headers['Content-Length'] = 0;
    }
    const maxBytes = spec.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

    return new Promise<RestResponse>((resolve, reject) => {
      let settled = false;
      let responded = false;
      const connection = pooled ? { agent: this.#agent } : { agent: false as const, ...this.#tls };
      const req = httpsRequest({ host: this.#host, port: this.#port, method: spec.method, path: spec.path, headers, ...connection });
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (error: Error): void => {
        if (!settle()) return;
        req.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(cancelled(what, signal));
      const timer = setTimeout(
        () => fail(new DeviceRestError('timeout', 'device-rest-timeout', `${what}: no answer from the device at ${this.origin} within ${timeoutMs} ms`, { timeoutMs })),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });

      req.on('socket', guardSocket);
      req.on('error', (error: NodeJS.ErrnoException) => {
        // Once the answer is in, a failing upload (the device stopped reading) no longer matters.
        if (responded) return;
        const mapped = transportError(error, what, this.origin);
        fail(req.reusedSocket ? new StaleConnection(mapped) : mapped);
      });
      req.on('response', (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > maxBytes) {
            fail(new DeviceRestError('infra-error', 'device-bad-reply', `${what}: the device's answer exceeds ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (!settle()) return;
          // An upload the device answered before reading it all leaves the connection unusable.
          if (!req.writableFinished) req.destroy();
          const version = res.headers[API_VERSION_HEADER];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), apiVersion: Array.isArray(version) ? version[0] : version });
        });
        res.on('error', (error: NodeJS.ErrnoException) => fail(transportError(error, what, this.origin)));
        res.on('aborted', () => fail(new DeviceRestError('infra-error', 'device-unreachable', `${what}: the device closed the connection mid-answer`)));
      });
      writeBody(req, spec.body, spec.onProgress, () => settled || responded);
    });
  }
}

/**
 * Writes still queued when the device hangs up fail on the socket after the
 * request has let go of it; they were already reported (or no longer matter),
 * so they must not surface as an uncaught error. Once per pooled socket.
 */
const guardedSockets = new WeakSet<object>();
function guardSocket(socket: Socket): void {
  if (guardedSockets.has(socket)) return;
  guardedSockets.add(socket);
  socket.on('error', () => undefined);
}

/** A failure on a reused keep-alive connection: retried once for idempotent requests. */
class StaleConnection extends Error {
  constructor(readonly reported: DeviceRestError) {
    super(reported.message);
  }
}

function writeBody(req: ReturnType<typeof httpsRequest>, body: Buffer | undefined, onProgress: RestRequest['onProgress'], stopped: () => boolean): void {
  if (!body) {
    req.end();
    return;
  }
  const total = body.length;
  onProgress?.(0, total);
  let offset = 0;
  const pump = (): void => {
    while (offset < total) {
      if (stopped()) return;
      const chunk = body.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
      offset += chunk.length;
      const sent = offset;
      // Report every chunk the socket took, even if the answer came first (a loaded host
      // can run the response before this callback): the bytes were sent all the same.
      const more = req.write(chunk, (error) => {
        if (!error) onProgress?.(sent, total);
      });
      if (!more) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
}

function transportError(error: NodeJS.ErrnoException, what: string, origin: string): DeviceRestError {
  const code = error.code ?? '';
  if (TLS_REJECTION.test(code)) {
    return new DeviceRestError(
      'infra-error',
      'device-identity-rejected',
      `${what}: the device at ${origin} is not the one expected: its TLS certificate does not chain to the pinned CA or is not for ${DEVICE_REST_HOST} (${code}: ${error.message})`,
      { tlsCode: code },
      { cause: error },
    );
  }
  return new DeviceRestError('infra-error', 'device-unreachable', `${what}: cannot reach the device at ${origin} (${code || error.message})`, { errno: code }, { cause: error });
}

function cancelled(what: string, signal: AbortSignal | undefined): DeviceRestError {
  return new DeviceRestError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: signal?.reason });
}
