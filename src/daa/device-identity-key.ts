import type { KeyObject } from 'node:crypto';
import { publicKeyFromPoint } from '../pki/signing-key.js';

/**
 * The public key a device ID names (the ID is the identity key's X || Y),
 * imported once per device. Importing checks that the point is on P-256 and
 * costs as much as verifying a signature; the same devices ask for sessions and
 * attest again and again, so both the session request and the evidence check
 * use this cache. Only valid points are kept; the oldest entry goes first.
 */
const MAX_KEYS = 10_000;
const DEVICE_ID = /^[0-9a-f]{128}$/;
const keys = new Map<string, KeyObject>();

/** The key of a 128-lower-case-hex device ID; undefined when it is not a P-256 point. */
export function deviceIdentityKey(deviceId: string): KeyObject | undefined {
  const cached = keys.get(deviceId);
  if (cached) return cached;
  if (!DEVICE_ID.test(deviceId)) return undefined;
  let key: KeyObject;
  try {
    key = publicKeyFromPoint(deviceId);
  } catch {
    return undefined;
  }
  if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(deviceId, key);
  return key;
}
