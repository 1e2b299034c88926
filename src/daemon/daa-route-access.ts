import type { RequestHandler } from 'express';
import { authorize, bearerToken, requireRole, roleForMethod, type TokenVerifier } from './auth.js';

/**
 * Who may use the DAA service (mounted by the daemon at /daa, or alone by
 * `sphere-rig daa serve`). Devices carry no rig token, so what a device or a
 * relying party needs stays open: the attestation exchange, the root, tenant
 * CA, chain and CRL downloads (without a token a tenant is named by its id
 * there, and every miss answers alike: tenant-download.ts), and the
 * relying-party check. Everything else
 * (tenants, the list of a tenant's CAs, claims, revocation, reference values,
 * CA rotation and status, the audit log) is the rig's to manage: reads need a
 * viewer token, writes an operator token, as on the API. Unauthenticated, a
 * managed route answers 401 before anything is looked up, so it tells nothing
 * of what exists (a tenant name, a device).
 */
const DEVICE_FACING: ReadonlyArray<{ method: string; path: RegExp }> = [
  { method: 'POST', path: /^\/sessions\/?$/ },
  { method: 'POST', path: /^\/sessions\/[^/]+\/evidence\/?$/ },
  { method: 'GET', path: /^\/pki\/(root|crl)\/?$/ },
  { method: 'GET', path: /^\/tenants\/[^/]+\/ca(\/(chain|crl))?\/?$/ },
  { method: 'POST', path: /^\/verify\/?$/ },
];

function isDeviceFacingDaaRoute(method: string, path: string): boolean {
  return DEVICE_FACING.some((route) => route.method === method && route.path.test(path));
}

/** Mount before the DAA router: `req.path` is then relative to where the service is mounted (/daa, or / alone). */
export function daaRouteAccess(verifier: TokenVerifier): RequestHandler {
  const managed = requireRole(verifier, (req) => roleForMethod(req.method));
  return (req, res, next) => {
    if (!isDeviceFacingDaaRoute(req.method, req.path)) return managed(req, res, next);
    // Open, but a valid viewer token may name tenants in the CA downloads (tenant-download.ts); any other token counts as none.
    const token = bearerToken(req.headers);
    if (token !== null) {
      try {
        res.locals.principal = authorize(verifier, token, 'viewer');
      } catch {
        // as anonymous
      }
    }
    next();
  };
}
