import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../util/failure.js';
import { createSelfSigned, type CertificateIssuer } from './certificate-authority.js';
import { loadCertificate, toCertificateBundlePem } from './certificate.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyDer,
  generateSigningKeyPair,
  importPrivateKeyPem,
  signingKeyPairFromPrivateKey,
} from './signing-key.js';
import { TrustedKeystore } from './trusted-keystore.js';

/**
 * The project's own image signers, generated per rig. The emulator's trusted
 * keystore holds their certificates; each signs one kind of image.
 */
export const SIGNING_ROLES = ['os', 'production-app', 'development-app', 'capability'] as const;

export type SigningRole = (typeof SIGNING_ROLES)[number];

export interface SigningRoleInfo {
  readonly subject: string;
  /** What images this role signs, for help texts and the key index. */
  readonly signs: string;
}

export const SIGNING_ROLE_INFO: Readonly<Record<SigningRole, SigningRoleInfo>> = {
  os: {
    subject: 'CN=sphere-rig OS signing, O=sphere-rig',
    signs: 'OS and firmware images: boot chain, kernel, root file system, trusted keystore, recovery manifest',
  },
  'production-app': {
    subject: 'CN=sphere-rig production app signing, O=sphere-rig',
    signs: 'production application images, which any board runs',
  },
  'development-app': {
    subject: 'CN=sphere-rig development app signing, O=sphere-rig',
    signs: 'development application images, which a board runs only while it holds the AppDevelopment capability',
  },
  capability: {
    subject: 'CN=sphere-rig device capability signing, O=sphere-rig',
    signs: 'device capability images (e.g. AppDevelopment), each bound to one device ID',
  },
};

/** A role's key pair and self-signed certificate; usable directly as a certificate issuer. */
export interface RoleKeys extends CertificateIssuer {
  readonly role: SigningRole;
  readonly publicKey: KeyObject;
}

/** `keys.json`: what `writeSigningRoles` wrote, so the set can be read back and checked. */
export interface SigningRolesIndex {
  readonly format: typeof INDEX_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  /** Bundle of every role's certificate, for a trusted keystore. */
  readonly keystore: string;
  readonly roles: readonly SigningRoleIndexEntry[];
}

export interface SigningRoleIndexEntry {
  readonly role: SigningRole;
  readonly key: string;
  readonly cert: string;
  /** SHA-1 of the certificate, 40 lower-case hex. */
  readonly thumbprint: string;
  readonly subject: string;
  readonly notAfter: string;
  readonly signs: string;
}

export interface GenerateSigningRolesOptions {
  /** Default: all four roles. */
  readonly roles?: readonly SigningRole[];
  /** Certificate lifetime; default 20 years. */
  readonly days?: number;
  readonly notBefore?: Date;
}

export interface WriteSigningRolesOptions {
  /** Replace keys already in the directory (they are lost). */
  readonly force?: boolean;
}

export const SIGNING_KEYS_INDEX_FILE = 'keys.json';
export const SIGNING_KEYSTORE_FILE = 'keystore.pem';
const INDEX_FORMAT = 'sphere-rig/signing-keys';
const TWENTY_YEARS_DAYS = 20 * 365 + 5;
const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;
const DIR_MODE = 0o700;

export function signingRoleFiles(role: SigningRole): { key: string; cert: string } {
  return { key: `${role}.key.pem`, cert: `${role}.cert.pem` };
}

export function isSigningRole(value: unknown): value is SigningRole {
  return typeof value === 'string' && (SIGNING_ROLES as readonly string[]).includes(value);
}

/** A fresh P-256 key and self-signed code-signing certificate for each role. */
export async function generateSigningRoles(options: GenerateSigningRolesOptions = {}): Promise<RoleKeys[]> {
  const roles = options.roles ?? SIGNING_ROLES;
  const result: RoleKeys[] = [];
  for (const role of roles) {
    const keyPair = generateSigningKeyPair();
    const cert = await createSelfSigned({
      subject: SIGNING_ROLE_INFO[role].subject,
      keyPair,
      days: options.days ?? TWENTY_YEARS_DAYS,
      ...(options.notBefore ? { notBefore: options.notBefore } : {}),
      keyUsages: ['digitalSignature'],
      extendedKeyUsages: ['codeSigning'],
    });
    result.push({ role, cert, privateKey: keyPair.privateKey, publicKey: keyPair.publicKey });
  }
  return result;
}

/** The one role of a set; an error naming the role when it is missing. */
export function findSigningRole(roles: readonly RoleKeys[], role: SigningRole): RoleKeys {
  const found = roles.find((keys) => keys.role === role);
  if (!found) throw new InputError('signing-role-missing', `no ${role} signing key in this key set`, { role });
  return found;
}

/** A keystore trusting every role's certificate, labelled with its role. */
export function signingRolesKeystore(roles: readonly RoleKeys[]): TrustedKeystore {
  return TrustedKeystore.of(roles.map(({ cert, role }) => ({ cert, role })));
}

/**
 * Writes `<role>.key.pem` (mode 0600), `<role>.cert.pem`, `keystore.pem` and
 * `keys.json` into `dir` (created 0700 if missing). Refuses, before writing
 * anything, when any of those files exists, unless `force`. Each file is written
 * whole under a temporary name and renamed into place.
 */
export async function writeSigningRoles(
  dir: string,
  roles: readonly RoleKeys[],
  options: WriteSigningRolesOptions = {},
): Promise<SigningRolesIndex> {
  assertDistinctRoles(roles);
  const index: SigningRolesIndex = {
    format: INDEX_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    keystore: SIGNING_KEYSTORE_FILE,
    roles: roles.map(({ role, cert }) => ({
      role,
      ...signingRoleFiles(role),
      thumbprint: cert.thumbprintHex,
      subject: cert.subject,
      notAfter: cert.notAfter.toISOString(),
      signs: SIGNING_ROLE_INFO[role].signs,
    })),
  };
  const files: { name: string; content: string; mode: number }[] = [
    ...roles.flatMap(({ role, cert, privateKey }) => [
      { name: signingRoleFiles(role).key, content: exportPrivateKeyPem(privateKey), mode: KEY_FILE_MODE },
      { name: signingRoleFiles(role).cert, content: cert.toPem(), mode: CERT_FILE_MODE },
    ]),
    { name: SIGNING_KEYSTORE_FILE, content: toCertificateBundlePem(roles.map(({ cert }) => cert)), mode: CERT_FILE_MODE },
    // The index goes last: its presence says the set is complete.
    { name: SIGNING_KEYS_INDEX_FILE, content: `${JSON.stringify(index, null, 2)}\n`, mode: CERT_FILE_MODE },
  ];

  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    throw new InputError('signing-keys-unwritable', `${dir}: cannot create the key directory (${errorCode(error)})`, { dir }, { cause: error });
  }
  if (!options.force) {
    const existing: string[] = [];
    for (const { name } of files) if (await exists(join(dir, name))) existing.push(name);
    if (existing.length) {
      throw new InputError(
        'signing-keys-exist',
        `${dir}: already holds a signing key set (${listSome(existing)}); refusing to overwrite it (use --force to replace it)`,
        { dir, existing },
      );
    }
  }
  for (const file of files) await writeWhole(join(dir, file.name), file.content, file.mode);
  return index;
}

/**
 * Reads a set written by `writeSigningRoles`, checking each key belongs to its
 * certificate and each certificate has the thumbprint the index records.
 */
export async function loadSigningRoles(dir: string): Promise<RoleKeys[]> {
  const indexPath = join(dir, SIGNING_KEYS_INDEX_FILE);
  const index = parseIndex(await readText(indexPath, 'signing key index'), indexPath);
  const result: RoleKeys[] = [];
  for (const entry of index.roles) {
    const keyPath = join(dir, entry.key);
    const certPath = join(dir, entry.cert);
    const keyPair = signingKeyPairFromPrivateKey(importPrivateKeyPem(await readText(keyPath, `${entry.role} signing key`), keyPath));
    const cert = await loadCertificate(certPath);
    if (!exportPublicKeyDer(keyPair.publicKey).equals(exportPublicKeyDer(cert.publicKey))) {
      throw new InputError('signing-keys-mismatch', `${keyPath}: this key does not belong to the certificate ${certPath}`, {
        file: keyPath,
        cert: certPath,
      });
    }
    if (cert.thumbprintHex !== entry.thumbprint) {
      throw new InputError(
        'signing-keys-mismatch',
        `${certPath}: thumbprint ${cert.thumbprintHex}, but ${indexPath} records ${entry.thumbprint} for role ${entry.role}`,
        { file: certPath, index: indexPath },
      );
    }
    result.push({ role: entry.role, cert, privateKey: keyPair.privateKey, publicKey: keyPair.publicKey });
  }
  return result;
}

function parseIndex(text: string, path: string): SigningRolesIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError('signing-keys-malformed', `${path}: not JSON (${errorCode(error)})`, { file: path }, { cause: error });
  }
  const fail = (where: string, expected: string): never => {
    throw new InputError('signing-keys-malformed', `${path}: ${where}: expected ${expected}`, { file: path, path: where });
  };
  if (!isRecord(value)) return fail('(top level)', 'an object');
  if (value.format !== INDEX_FORMAT) fail('format', `"${INDEX_FORMAT}"`);
  if (value.version !== 1) fail('version', '1');
  if (!Array.isArray(value.roles) || value.roles.length === 0) return fail('roles', 'a non-empty array');
  const roles = value.roles.map((entry: unknown, i: number): SigningRoleIndexEntry => {
    const at = `roles[${i}]`;
    if (!isRecord(entry)) return fail(at, 'an object');
    if (!isSigningRole(entry.role)) return fail(`${at}.role`, `one of ${SIGNING_ROLES.join(', ')}`);
    for (const field of ['key', 'cert'] as const) {
      const name = entry[field];
      // Plain file names only: an index must not point outside its directory.
      if (typeof name !== 'string' || name === '' || basename(name) !== name) fail(`${at}.${field}`, 'a file name in the same directory');
    }
    if (typeof entry.thumbprint !== 'string' || !/^[0-9a-f]{40}$/.test(entry.thumbprint)) fail(`${at}.thumbprint`, '40 lower-case hex characters');
    return {
      role: entry.role,
      key: entry.key as string,
      cert: entry.cert as string,
      thumbprint: entry.thumbprint as string,
      subject: typeof entry.subject === 'string' ? entry.subject : '',
      notAfter: typeof entry.notAfter === 'string' ? entry.notAfter : '',
      signs: typeof entry.signs === 'string' ? entry.signs : SIGNING_ROLE_INFO[entry.role].signs,
    };
  });
  const seen = new Set<string>();
  roles.forEach((entry, i) => {
    if (seen.has(entry.role)) fail(`roles[${i}].role`, `each role once (${entry.role} repeats)`);
    seen.add(entry.role);
  });
  return {
    format: INDEX_FORMAT,
    version: 1,
    createdAt: typeof value.createdAt === 'string' ? value.createdAt : '',
    keystore: typeof value.keystore === 'string' ? value.keystore : SIGNING_KEYSTORE_FILE,
    roles,
  };
}

function assertDistinctRoles(roles: readonly RoleKeys[]): void {
  if (roles.length === 0) throw new InputError('signing-role-missing', 'no signing roles to write');
  const seen = new Set<SigningRole>();
  for (const { role } of roles) {
    if (seen.has(role)) throw new InputError('signing-role-duplicate', `signing role ${role} given twice`, { role });
    seen.add(role);
  }
}

async function writeWhole(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // Created with its final mode, so a private key is never readable by others, even briefly.
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new InputError('signing-keys-unwritable', `${path}: cannot write it (${errorCode(error)})`, { file: path }, { cause: error });
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    const hint = code === 'ENOENT' ? ` (no such file; create the set with \`sphere-rig keys generate --out ${dirname(path)}\`)` : ` (${code})`;
    throw new InputError('signing-keys-missing', `${path}: cannot read the ${what}${hint}`, { file: path }, { cause: error });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new InputError('signing-keys-unwritable', `${path}: cannot check it (${errorCode(error)})`, { file: path }, { cause: error });
  }
}

function listSome(names: readonly string[]): string {
  return names.length <= 2 ? names.join(', ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}
