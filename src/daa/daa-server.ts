import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RigError } from '../util/failure.js';
import { formatHostPort } from '../util/loopback-address.js';
import type { DaaService } from './daa-service.js';
import { createDaaRouter, type DaaRouterOptions } from './http/daa-router.js';
import { loopbackListenAddress } from './loopback-url.js';

/** The DAA service on its own HTTP listener (`sphere-rig daa serve`), loopback only. */
export interface DaaServerOptions extends DaaRouterOptions {
  service: DaaService;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface RunningDaaServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;

export async function startDaaServer(options: DaaServerOptions): Promise<RunningDaaServer> {
  const { host, port } = loopbackListenAddress({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, 'the DAA service listen address');
  const app = express();
  app.disable('x-powered-by');
  app.use(createDaaRouter(options.service, options));
  const server: Server = createServer(app);
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new RigError('infra-error', 'daa-listen-failed', `cannot listen on ${formatHostPort(host, port)}: ${error.message}`, {}, { cause: error })));
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${formatHostPort(address.address, address.port)}`,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
