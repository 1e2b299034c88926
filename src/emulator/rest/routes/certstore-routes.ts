import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Request } from 'express';
import { parseCertificate, type Certificate } from '../../../pki/certificate.js';
import { DeviceRefusal } from '../../device-error.js';
import type { StoredCertificate } from '../device-settings.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { keyDerivationProblem } from '../key-derivation-cost.js';
import type { RestRoute } from '../rest-route.js';

/**
 * The certificate store (for EAP-TLS Wi-Fi): install a root CA or a client
 * certificate with its key, list, show, remove, free space. Every refusal
 * carries the device's own 387973xx code. Keys given encrypted are stored
 * decrypted in the chip record (mode 0600), as the device keeps them in its
 * own protected store.
 */
const Code = {
  InvalidIdentifier: 38797314,
  IdentifierTooLong: 38797316,
  NotFound: 38797319,
  OutOfSpace: 38797323,
  InvalidType: 38797324,
  PublicCertInvalid: 38797325,
  PublicCertTooLong: 38797326,
  PrivateKeyInvalid: 38797327,
  PrivateKeyTooLong: 38797328,
  PrivateKeyNotAllowed: 38797329,
  PasswordTooLong: 38797330,
  PasswordNotAllowed: 38797331,
  KeyMismatch: 38797332,
  PasswordForUnencryptedKey: 38797333,
} as const;

/** Bytes of PEM the store holds; a device has a few tens of KiB for certificates. */
export const CERTSTORE_CAPACITY_BYTES = 24 * 1024;
const MAX_PEM_CHARS = 8192;
const MAX_PASSWORD_CHARS = 256;
const MAX_IDENTIFIER_CHARS = 16;

const installBody = requestSchema<{ certType: string; publicCert?: string; privateKey?: string; password?: string }>({
  type: 'object',
  required: ['certType', 'publicCert'],
  properties: { certType: { type: 'string' }, publicCert: { type: 'string' }, privateKey: { type: 'string' }, password: { type: 'string' } },
});

const bad = (code: number, detail: string) => new DeviceRefusal(code, 400, detail);

function identifierParam(req: Request): string {
  const id = String(req.params.identifier ?? '');
  if (id.length > MAX_IDENTIFIER_CHARS) throw bad(Code.IdentifierTooLong, `identifier is ${id.length} characters`);
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw bad(Code.InvalidIdentifier, `identifier ${JSON.stringify(id)}`);
  return id;
}

export function storedBytes(cert: StoredCertificate): number {
  return Buffer.byteLength(cert.publicCertPem) + Buffer.byteLength(cert.privateKeyPem ?? '');
}

function readPrivateKey(pem: string, password: string | undefined): KeyObject {
  const encrypted = /ENCRYPTED/.test(pem);
  if (password !== undefined && !encrypted) throw bad(Code.PasswordForUnencryptedKey, 'a password was given for an unencrypted key');
  // Before OpenSSL decrypts: it would spend whatever key derivation work the key asks for, on the event loop.
  const tooCostly = keyDerivationProblem(pem);
  if (tooCostly) throw bad(Code.PrivateKeyInvalid, tooCostly);
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(password !== undefined ? { passphrase: password } : {}) });
  } catch (error) {
    throw bad(Code.PrivateKeyInvalid, (error as Error).message);
  }
}

function describe(cert: StoredCertificate): Record<string, string> {
  let parsed: Certificate;
  try {
    parsed = parseCertificate(cert.publicCertPem, `certificate ${cert.id}`);
  } catch {
    return { id: cert.id };
  }
  return { id: cert.id, notBefore: parsed.notBefore.toISOString(), notAfter: parsed.notAfter.toISOString(), subjectName: parsed.subject, issuerName: parsed.issuer };
}

export const certstoreRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/certstore/certs',
    access: 'servicing',
    handle: ({ settings }, { res }) => res.json({ identifiers: settings.read().certstore.map((c) => c.id) }),
  },
  {
    method: 'get',
    path: '/certstore/certs/:identifier',
    access: 'servicing',
    handle: ({ settings }, { req, res }) => {
      const id = identifierParam(req);
      const cert = settings.read().certstore.find((c) => c.id === id);
      if (!cert) throw new DeviceRefusal(Code.NotFound, 404, `no certificate ${id}`);
      res.json(describe(cert));
    },
  },
  {
    method: 'post',
    path: '/certstore/certs/:identifier',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const id = identifierParam(req);
      const body = (await readJsonBody(req, installBody, { required: true }))!;
      if (body.certType !== 'Client' && body.certType !== 'RootCA') throw bad(Code.InvalidType, `certType ${JSON.stringify(body.certType)}`);
      const publicCert = body.publicCert ?? '';
      if (publicCert.length > MAX_PEM_CHARS) throw bad(Code.PublicCertTooLong, `${publicCert.length} characters`);
      let cert: Certificate;
      try {
        cert = parseCertificate(publicCert, 'publicCert');
      } catch (error) {
        throw bad(Code.PublicCertInvalid, (error as Error).message);
      }
      let privateKeyPem: string | undefined;
      if (body.certType === 'RootCA') {
        if (body.privateKey !== undefined) throw bad(Code.PrivateKeyNotAllowed, 'a root CA is stored without a key');
        if (body.password !== undefined) throw bad(Code.PasswordNotAllowed, 'a root CA takes no password');
      } else {
        if (body.privateKey === undefined) throw bad(Code.PrivateKeyInvalid, 'a client certificate needs its private key');
        if (body.privateKey.length > MAX_PEM_CHARS) throw bad(Code.PrivateKeyTooLong, `${body.privateKey.length} characters`);
        if (body.password !== undefined && body.password.length > MAX_PASSWORD_CHARS) throw bad(Code.PasswordTooLong, `${body.password.length} characters`);
        const key = readPrivateKey(body.privateKey, body.password);
        const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
        if (!keySpki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) throw bad(Code.KeyMismatch, 'the key does not belong to the certificate');
        privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
      }
      const entry: StoredCertificate = { id, certType: body.certType, publicCertPem: cert.toPem(), ...(privateKeyPem ? { privateKeyPem } : {}) };
      settings.update((s) => {
        const others = s.certstore.filter((c) => c.id !== id);
        const used = others.reduce((sum, c) => sum + storedBytes(c), 0);
        if (used + storedBytes(entry) > CERTSTORE_CAPACITY_BYTES) throw bad(Code.OutOfSpace, `${CERTSTORE_CAPACITY_BYTES - used} bytes left`);
        s.certstore = [...others, entry];
      });
      res.json({});
    },
  },
  {
    method: 'delete',
    path: '/certstore/certs/:identifier',
    access: 'servicing',
    handle: ({ settings }, { req, res }) => {
      const id = identifierParam(req);
      settings.update((s) => {
        if (!s.certstore.some((c) => c.id === id)) throw new DeviceRefusal(Code.NotFound, 404, `no certificate ${id}`);
        s.certstore = s.certstore.filter((c) => c.id !== id);
      });
      res.json({});
    },
  },
  {
    method: 'get',
    path: '/certstore/space',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      const used = settings.read().certstore.reduce((sum, c) => sum + storedBytes(c), 0);
      // The spec types AvailableSpace as a string (bytes).
      res.json({ AvailableSpace: String(Math.max(0, CERTSTORE_CAPACITY_BYTES - used)) });
    },
  },
];
