import { KeyUsageFlags } from '@peculiar/x509';

/**
 * Key usage and extended key usage by name, so callers write `'clientAuth'`
 * rather than OIDs and bit flags; unknown EKU purposes pass through as OIDs.
 */
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

export type KeyUsage = (typeof KEY_USAGES)[number];

export const EXTENDED_KEY_USAGE_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

export type NamedExtendedKeyUsage = keyof typeof EXTENDED_KEY_USAGE_OIDS;

/** A named purpose, or any purpose by its dotted OID. */
export type ExtendedKeyUsage = NamedExtendedKeyUsage | (string & {});

export function keyUsageFlags(usages: readonly KeyUsage[]): number {
  return usages.reduce((flags, usage) => flags | KeyUsageFlags[usage], 0);
}

export function keyUsagesFromFlags(flags: number): KeyUsage[] {
  return KEY_USAGES.filter((usage) => (flags & KeyUsageFlags[usage]) !== 0);
}

export function extendedKeyUsageOid(usage: ExtendedKeyUsage): string {
  return (EXTENDED_KEY_USAGE_OIDS as Record<string, string>)[usage] ?? usage;
}

/** The name of a known purpose OID, or the OID itself. */
export function extendedKeyUsageName(oid: string): ExtendedKeyUsage {
  const entry = Object.entries(EXTENDED_KEY_USAGE_OIDS).find(([, value]) => value === oid);
  return entry ? (entry[0] as NamedExtendedKeyUsage) : oid;
}

export function isObjectIdentifier(text: string): boolean {
  return /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/.test(text);
}
