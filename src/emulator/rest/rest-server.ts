import type { RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { checkLoopbackHostPort, formatHostPort } from '../../util/loopback-address.js';
import { REST_API_VERSION, REST_API_VERSION_HEADER } from './rest-api-version.js';
import { RestErrorCode } from './rest-error-codes.js';
import type { RestServerIdentity } from './rest-server-identity.js';

/**
 * The HTTPS listener of one board's REST API, on a loopback address only (the
 * emulated service link). While the board is not up (off, booting, in
 * recovery, hung) it behaves as a device whose link is down: every new TCP
 * connection is reset at once, and connections open when the board went down
 * are dropped (chosen over answering errors: a rebooting device answers
 * nothing, and a client must treat that as "unreachable", never as a refusal).
 */
export interface RestServerOptions {
  identity: RestServerIdentity;
  app: RequestListener;
  isUp: () => boolean;
  name: string;
  /** A literal loopback address; anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

/** Generous for a 16 MiB upload over loopback; a stalled client is cut off. */
const REQUEST_TIMEOUT_MS = 120_000;
const HEADERS_TIMEOUT_MS = 15_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 256;
const UNPARSEABLE_BODY = JSON.stringify({ error: RestErrorCode.InvalidRequest });
const UNPARSEABLE_REQUEST_ANSWER =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n' +
  `${REST_API_VERSION_HEADER}: ${REST_API_VERSION}\r\nContent-Length: ${UNPARSEABLE_BODY.length}\r\nConnection: close\r\n\r\n${UNPARSEABLE_BODY}`;

export class RestServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #log;

  private constructor(options: RestServerOptions) {
    this.#log = componentLogger(`rest:${options.name}`);
    this.#server = createServer(
      {
        key: options.identity.keyPem,
        cert: options.identity.certPem,
        minVersion: 'TLSv1.2',
        requestTimeout: REQUEST_TIMEOUT_MS,
        headersTimeout: HEADERS_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      options.app,
    );
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.on('connection', (socket: Socket) => {
      if (!options.isUp()) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // A client that fails the handshake (e.g. does not trust the CA) is its own problem.
    this.#server.on('tlsClientError', (error) => this.#log.debug('TLS handshake failed', { error: error.message }));
    // Requests Node cannot parse (oversized or malformed headers) never reach the app: answer them here.
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      this.#log.debug('bad HTTP request', { error: error.message, code: error.code });
      if (error.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(UNPARSEABLE_REQUEST_ANSWER);
    });
  }

  static async listen(options: RestServerOptions): Promise<RestServer> {
    const { host, port } = checkLoopbackHostPort({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, 'the REST API', { use: 'listen' });
    const rest = new RestServer(options);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void =>
        reject(new RigError('infra-error', 'rest-listen-failed', `cannot listen on ${formatHostPort(host, port)}: ${error.message}`, {}, { cause: error }));
      rest.#server.once('error', onError);
      rest.#server.listen({ host, port, exclusive: true }, () => {
        rest.#server.off('error', onError);
        resolve();
      });
    });
    rest.#server.on('error', (error) => rest.#log.error('server error', { error: error.message }));
    return rest;
  }

  get host(): string {
    return (this.#server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * The board went down: drop every connection. Deferred one turn so that a
   * response written just before (a restart's `{}`) reaches the kernel first.
   */
  dropConnections(): void {
    // Only those open now: a fast boot may be up again, with new clients, before this runs.
    const open = [...this.#sockets];
    setImmediate(() => {
      for (const socket of open) socket.destroy();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}
