import type { KeyObject } from 'node:crypto';
import { Certificate, loadCertificates } from './certificate.js';
import { normalizeSha1Thumbprint } from './thumbprint.js';

/** One trusted signer: its certificate and what it is trusted as. */
export interface KeystoreEntry {
  readonly cert: Certificate;
  /** A label such as `os`, `production-app` or `sdk-test`. */
  readonly role: string;
  /** SHA-1 thumbprint, 40 lower-case hex: what an image's SG section names. */
  readonly thumbprint: string;
  readonly subject: string;
  /** The certificate's key, which checks the signatures of images this signer made. */
  readonly publicKey: KeyObject;
}

/**
 * The certificates image verification trusts, looked up by SHA-1 thumbprint
 * (it serves directly as the trust anchors `verifyImagePackage` takes).
 * Immutable: `add` and `merge` return a new keystore and leave this one as it
 * was, so a keystore can be shared between boards and threads of work freely.
 */
export class TrustedKeystore implements Iterable<KeystoreEntry> {
  readonly #byThumbprint: ReadonlyMap<string, KeystoreEntry>;

  private constructor(byThumbprint: ReadonlyMap<string, KeystoreEntry>) {
    this.#byThumbprint = byThumbprint;
  }

  static empty(): TrustedKeystore {
    return new TrustedKeystore(new Map());
  }

  static of(entries: Iterable<{ readonly cert: Certificate; readonly role: string }>): TrustedKeystore {
    let keystore = TrustedKeystore.empty();
    for (const entry of entries) keystore = keystore.add(entry.cert, entry.role);
    return keystore;
  }

  /**
   * Every certificate of each PEM/DER file (bundles included), all under `role`.
   * Errors name the file that could not be read.
   */
  static async load(paths: readonly string[], role: string): Promise<TrustedKeystore> {
    let keystore = TrustedKeystore.empty();
    for (const path of paths) {
      for (const cert of await loadCertificates(path)) keystore = keystore.add(cert, role);
    }
    return keystore;
  }

  /**
   * A new keystore that also trusts `cert` under `role`. A certificate already
   * present keeps its first role (adding it again changes nothing).
   */
  add(cert: Certificate, role: string): TrustedKeystore {
    const thumbprint = cert.thumbprintHex;
    if (this.#byThumbprint.has(thumbprint)) return this;
    const next = new Map(this.#byThumbprint);
    next.set(thumbprint, Object.freeze({ cert, role, thumbprint, subject: cert.subject, publicKey: cert.publicKey }));
    return new TrustedKeystore(next);
  }

  /** A new keystore holding the entries of both; this one's roles win on overlap. */
  merge(other: TrustedKeystore): TrustedKeystore {
    return TrustedKeystore.of([...this, ...other]);
  }

  /** `sha1` as 20 bytes or hex (any case, colons allowed); undefined when absent or malformed. */
  findByThumbprint(sha1: Uint8Array | string): KeystoreEntry | undefined {
    const key = normalizeSha1Thumbprint(sha1);
    return key === undefined ? undefined : this.#byThumbprint.get(key);
  }

  has(sha1: Uint8Array | string): boolean {
    return this.findByThumbprint(sha1) !== undefined;
  }

  get size(): number {
    return this.#byThumbprint.size;
  }

  /** Entries in the order they were added. */
  entries(): readonly KeystoreEntry[] {
    return [...this.#byThumbprint.values()];
  }

  byRole(role: string): readonly KeystoreEntry[] {
    return this.entries().filter((entry) => entry.role === role);
  }

  [Symbol.iterator](): Iterator<KeystoreEntry> {
    return this.#byThumbprint.values();
  }

  /** All certificates as one PEM bundle, in the order they were added. */
  toPem(): string {
    return this.entries()
      .map((entry) => entry.cert.toPem())
      .join('');
  }

  toJSON(): { role: string; thumbprint: string; subject: string }[] {
    return this.entries().map(({ role, thumbprint, subject }) => ({ role, thumbprint, subject }));
  }
}
