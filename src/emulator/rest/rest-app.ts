import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { FormatError } from '../../image/format-error.js';
import { DeviceErrorCode } from '../../util/device-error-codes.js';
import { componentLogger } from '../../util/logger.js';
import { DeviceRefusal } from '../device-error.js';
import { authorize, grantedCapabilities } from './capability-authorization.js';
import { answerRefusedBody, ClientGone, declaredLength, JSON_BODY_LIMIT } from './request-body.js';
import { REST_API_VERSION, REST_API_VERSION_HEADER } from './rest-api-version.js';
import { refuse, RestErrorCode } from './rest-error-codes.js';
import type { RestContext, RestRoute } from './rest-route.js';
import { appRoutes } from './routes/app-routes.js';
import { certstoreRoutes } from './routes/certstore-routes.js';
import { deviceRoutes } from './routes/device-routes.js';
import { diagnosticsRoutes } from './routes/diagnostics-routes.js';
import { imageRoutes } from './routes/image-routes.js';
import { netRoutes } from './routes/net-routes.js';
import { wifiRoutes } from './routes/wifi-routes.js';

/**
 * The request pipeline of one board's REST API: version header, the up-check
 * (a board that is not up drops the connection, as a rebooting device does),
 * a size cap on bodies, authorization by capability, the operation, and one
 * error handler that turns every refusal into `{"error": code}` with its HTTP
 * status. Unknown paths and methods are 404 {"error": 15728642}; no input ends
 * in a 500 or a crash (a 500 means the emulator itself is broken, and is logged).
 */
export const REST_ROUTES: readonly RestRoute[] = [
  ...deviceRoutes,
  ...imageRoutes,
  ...appRoutes,
  ...certstoreRoutes,
  ...wifiRoutes,
  ...netRoutes,
  ...diagnosticsRoutes,
];

const STAGE_PATH = '/update/stage';

export function createRestApp(context: RestContext, isUp: () => boolean): Express {
  const log = componentLogger(`rest:${context.board.name}`);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!isUp()) {
      req.socket.destroy();
      return;
    }
    res.setHeader(REST_API_VERSION_HEADER, REST_API_VERSION);
    context.traffic.requests += 1;
    context.traffic.bytes += declaredLength(req) ?? 0;
    // The device answers no OPTIONS (express's router would list the allowed methods).
    if (req.method === 'OPTIONS') {
      next(refuse.unknownPath(req.method, req.path));
      return;
    }
    // Only staging takes a large body; refuse others before reading a byte of it.
    if (req.path !== STAGE_PATH && (declaredLength(req) ?? 0) > JSON_BODY_LIMIT) {
      next(refuse.tooLarge(JSON_BODY_LIMIT));
      return;
    }
    next();
  });

  const router = express.Router({ caseSensitive: true });
  for (const route of REST_ROUTES) {
    router[route.method](route.path, async (req: Request, res: Response) => {
      // Checking a capability image costs a signature verification: only where it matters.
      const granted = route.access === 'open' ? [] : grantedCapabilities(context.board, req);
      authorize(route.access, granted);
      await route.handle(context, { req, res, granted });
    });
  }
  app.use(router);
  app.use((req: Request, _res: Response, next: NextFunction) => next(refuse.unknownPath(req.method, req.path)));

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ClientGone || res.headersSent) {
      req.socket.destroy();
      return;
    }
    const refusal = asRefusal(error);
    context.board.osLog('restRefused', refusal.deviceErrorCode);
    if (refusal.httpStatus >= 500) log.error('request failed', { method: req.method, path: req.path, error: error instanceof Error ? error.message : String(error) });
    else log.debug('request refused', { method: req.method, path: req.path, code: refusal.deviceErrorCode, detail: refusal.message });
    // A body refused as too large is still on its way: answer now, close once it is over.
    if (refusal.deviceErrorCode === RestErrorCode.ContentTooLarge) answerRefusedBody(req, res, refusal.httpStatus, refusal.deviceErrorCode);
    else res.status(refusal.httpStatus).json({ error: refusal.deviceErrorCode });
  });
  return app;
}

/** Every thrown value as the device's answer. */
function asRefusal(error: unknown): DeviceRefusal {
  if (error instanceof DeviceRefusal) return error;
  if (error instanceof FormatError) return new DeviceRefusal(error.deviceErrorCode ?? DeviceErrorCode.ImageInvalid, 400, error.message);
  // Errors express itself raises for a bad request (e.g. an undecodable path) carry a 4xx status.
  const status = (error as { status?: unknown; statusCode?: unknown } | undefined)?.status ?? (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return refuse.invalid(error instanceof Error ? error.message : 'bad request');
  return new DeviceRefusal(RestErrorCode.InternalError, 500, error instanceof Error ? error.message : String(error));
}
