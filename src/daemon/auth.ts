import type { RequestHandler, Response } from 'express';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ROLES, type ApiTokenInfo, type Role } from './api-token-store.js';
import { HttpError } from './http-errors.js';

/**
 * Who may do what on the daemon's API. Roles are ordered: a viewer reads; an
 * operator also submits and cancels runs and acts on boards; an admin also
 * manages tokens. Requests carry `Authorization: Bearer <token>`; WebSocket
 * upgrades may carry the token as a `token` query parameter instead, because
 * browsers cannot set headers on a WebSocket.
 */
export type { Role } from './api-token-store.js';

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
}

/** Anything that can check a token; `ApiTokenStore` is one. */
export interface TokenVerifier {
  verify(token: string): ApiTokenInfo | null;
}

export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/** The role a route needs by default: reading is for viewers, anything else for operators. */
export function roleForMethod(method: string): Role {
  return ['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()) ? 'viewer' : 'operator';
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Checks a token against a role; throws an `HttpError` 401 (no or bad token) or 403 (role too small). */
export function authorize(verifier: TokenVerifier, token: string | null, required: Role): Principal {
  if (token === null) {
    throw new HttpError(401, 'unauthenticated', 'an API token is required (Authorization: Bearer <token>)', {
      headers: { 'WWW-Authenticate': 'Bearer realm="sphere-rig"' },
    });
  }
  const info = verifier.verify(token);
  if (!info) {
    throw new HttpError(401, 'invalid-token', 'the API token is not valid', { headers: { 'WWW-Authenticate': 'Bearer realm="sphere-rig", error="invalid_token"' } });
  }
  if (!roleAtLeast(info.role, required)) {
    throw new HttpError(403, 'forbidden', `this needs the ${required} role; the token "${info.name}" has ${info.role}`, {
      details: { required, role: info.role },
    });
  }
  return { tokenId: info.id, name: info.name, role: info.role };
}

/**
 * Middleware letting through requests whose token has at least `required`
 * (a fixed role, or one chosen per request such as `roleForMethod`). The
 * principal is then `principalOf(res)`.
 */
export function requireRole(verifier: TokenVerifier, required: Role | ((req: Parameters<RequestHandler>[0]) => Role)): RequestHandler {
  return (req, res, next) => {
    try {
      const role = typeof required === 'function' ? required(req) : required;
      res.locals.principal = authorize(verifier, bearerToken(req.headers), role);
      next();
    } catch (error) {
      next(error);
    }
  };
}

export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/**
 * The check for a WebSocket upgrade request: the token from the Authorization
 * header, else from the `token` query parameter. Throws `HttpError` 401/403.
 */
export function authorizeUpgrade(verifier: TokenVerifier, req: IncomingMessage, required: Role = 'viewer'): Principal {
  let token = bearerToken(req.headers);
  if (token === null) {
    const query = queryParameter(req.url, 'token');
    token = query === null || query === '' ? null : query;
  }
  return authorize(verifier, token, required);
}

/** One query parameter of a request URL; null when absent or the URL does not parse. */
export function queryParameter(url: string | undefined, name: string): string | null {
  try {
    return new URL(url ?? '/', 'http://localhost').searchParams.get(name);
  } catch {
    return null;
  }
}
