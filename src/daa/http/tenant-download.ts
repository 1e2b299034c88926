import type { Response } from 'express';
import { DaaError } from '../daa-error.js';
import type { DaaService } from '../daa-service.js';

/**
 * What the open tenant CA downloads (CA, chain, CRL) tell a caller without a
 * token. A relying party needs them without one, and knows the tenant by its
 * id (the GUID in the tenant CA's subject, in every device certificate's
 * issuer, and in each session's answer); tenant names are the rig's business.
 * So without a token a download names the tenant by id, and every miss (a
 * name, an id of no tenant, a thumbprint of no CA of that tenant) answers the
 * same 404, so probing cannot tell a real tenant name from a made-up one. With
 * a viewer token (the access layer in front puts its principal in
 * `res.locals.principal`) names work, and the answers say what is missing.
 */
export async function tenantDownload(service: DaaService, ref: string, res: Response, send: (tenantId: string) => Promise<void> | void): Promise<void> {
  if (res.locals.principal !== undefined) return send(ref);
  try {
    const tenant = service.tenant(ref);
    // A name that looks like an id is still a name.
    if (tenant.id.toLowerCase() !== ref.toLowerCase()) throw NO_SUCH_DOWNLOAD();
    await send(tenant.id);
  } catch (error) {
    if (error instanceof DaaError && error.status === 404) throw NO_SUCH_DOWNLOAD();
    throw error;
  }
}

/** The one answer to every anonymous miss: nothing in it depends on what was asked for. */
const NO_SUCH_DOWNLOAD = (): DaaError => new DaaError('not-found', 404, 'no such tenant CA; without a token, name the tenant by its id');
