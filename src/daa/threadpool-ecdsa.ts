import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * ECDSA P-256 with SHA-256 on libuv's threadpool (node:crypto's callback
 * forms): the event loop only hands the job over and takes the answer, about a
 * fifth of the work of doing it in line, and the curve arithmetic runs on the
 * other cores. The DAA service verifies every evidence and signs every
 * certificate this way, so attestations neither block the daemon's event loop
 * (runs, stream, dashboard) nor leave the second core idle. The pool has one
 * thread fewer than the cores (bin/threadpool-size.cjs): more would take the
 * event loop's core and starve the loop that feeds them.
 */
export function verifyOnThreadpool(data: Uint8Array, key: KeyObject, signature: Uint8Array, dsaEncoding: 'der' | 'ieee-p1363'): Promise<boolean> {
  return new Promise((resolve, reject) => verify('sha256', data, { key, dsaEncoding }, signature, (error, ok) => (error ? reject(error) : resolve(ok))));
}

/** A DER-encoded ECDSA signature (as X.509 carries it). */
export function signOnThreadpool(data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign('sha256', data, key, (error, signature) => (error ? reject(error) : resolve(signature))));
}
