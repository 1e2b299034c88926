import { Name } from '@peculiar/x509';
import { CertificateError } from './certificate-error.js';

/**
 * A subject or issuer name: either text such as `CN=sphere-rig OS signing, O=sphere-rig`
 * (attributes in the order written, `\,` escapes a comma), or an object such as
 * `{ CN: deviceId, O: 'sphere-rig' }` (attributes in key order, no escaping needed).
 * No length limits are applied: device IDs make 128-character CNs.
 */
export type DistinguishedName = string | Readonly<Record<string, string>>;

export function toX509Name(name: DistinguishedName): Name {
  try {
    if (typeof name === 'string') return new Name(name);
    const entries = Object.entries(name);
    if (entries.length === 0) throw new Error('no attributes');
    return new Name(entries.map(([attribute, value]) => ({ [attribute]: [value] })));
  } catch (error) {
    const shown = typeof name === 'string' ? name : JSON.stringify(name);
    const problem = error instanceof Error ? error.message : String(error);
    throw new CertificateError('certificate-params', 'distinguished name', `cannot use ${shown} (${problem})`, { cause: error });
  }
}
