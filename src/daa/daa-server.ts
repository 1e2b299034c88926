import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApiTokenStore, ensureLocalAdminToken } from '../daemon/api-token-store.js';
import type { TokenVerifier } from '../daemon/auth.js';
import { daaRouteAccess } from '../daemon/daa-route-access.js';
import { lingerOnEarlyAnswer } from '../daemon/http-early-answer.js';
import { httpErrorHandler } from '../daemon/http-errors.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { formatHostPort } from '../util/loopback-address.js';
import type { DaaService } from './daa-service.js';
import { createDaaRouter, type DaaRouterOptions } from './http/daa-router.js';
import { loopbackListenAddress } from './loopback-url.js';

/**
 * The DAA service on its own HTTP listener (`sphere-rig daa serve`), loopback
 * only, with the daemon's tokens and roles (daa-route-access.ts): what devices
 * and relying parties need is open, managing the service takes a viewer token
 * to read and an operator token to change. The tokens are kept as the daemon
 * keeps its own, in `tokenDir` (usually the service's state folder):
 *
 *   api-tokens.json  token hashes and roles (mode 0600)
 *   admin.token      a local admin token, made at the first start (mode 0600)
 */
export interface DaaServerOptions extends DaaRouterOptions {
  service: DaaService;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Folder of api-tokens.json and admin.token (created when missing). */
  tokenDir?: string;
  /**
   * Or any token check, instead of `tokenDir`. With neither, no token is
   * valid: every management route answers 401, and only devices and relying
   * parties are served.
   */
  tokens?: TokenVerifier;
}

export interface RunningDaaServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** With `tokenDir`: the local admin token, where it is kept, and whether this start made it. */
  readonly adminToken: { token: string; path: string; created: boolean } | null;
  close(): Promise<void>;
}

export const DAA_TOKEN_FILE = 'api-tokens.json';
export const DAA_ADMIN_TOKEN_FILE = 'admin.token';

const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;

const log = componentLogger('daa');
const NO_TOKENS: TokenVerifier = { verify: () => null };

export async function startDaaServer(options: DaaServerOptions): Promise<RunningDaaServer> {
  const { host, port } = loopbackListenAddress({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, 'the DAA service listen address');
  if (options.tokenDir !== undefined && options.tokens !== undefined) {
    throw new RigError('infra-error', 'daa-server-options', 'give the DAA server tokenDir or tokens, not both');
  }
  let tokens = options.tokens;
  let adminToken: RunningDaaServer['adminToken'] = null;
  if (options.tokenDir !== undefined) {
    const store = ApiTokenStore.open(join(options.tokenDir, DAA_TOKEN_FILE));
    adminToken = ensureLocalAdminToken(store, join(options.tokenDir, DAA_ADMIN_TOKEN_FILE));
    tokens = store;
  }
  if (!tokens) log.warn('the DAA service has no API tokens (tokenDir): its management routes refuse every request');

  const app = express();
  app.disable('x-powered-by');
  // A 401 or 413 answered before the body was read must reach a client still uploading.
  app.use(lingerOnEarlyAnswer());
  const router = createDaaRouter(options.service, options);
  app.use(daaRouteAccess(tokens ?? NO_TOKENS), router);
  // What the router does not answer itself: the access check's 401 and 403.
  app.use(httpErrorHandler({ logger: log }));
  const server: Server = createServer(app);
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new RigError('infra-error', 'daa-listen-failed', `cannot listen on ${formatHostPort(host, port)}: ${error.message}`, {}, { cause: error })));
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (error) {
    await router.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  return {
    url: `http://${formatHostPort(address.address, address.port)}`,
    host: address.address,
    port: address.port,
    adminToken,
    close: async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      await router.close();
    },
  };
}
