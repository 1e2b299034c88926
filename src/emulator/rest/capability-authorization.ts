import type { IncomingMessage } from 'node:http';
import { Capability } from '../../image/capability-image.js';
import type { EmulatedBoard } from '../emulated-board.js';
import { refuse } from './rest-error-codes.js';

/**
 * Who may call what (device-rest-api.md, "Authorization on the device"):
 *   open            anyone attached (/status, /osversion, security state...)
 *   app-development the AppDevelopment capability (11) only (memory statistics)
 *   servicing       AppDevelopment (11) or FieldServicing (13): everything else
 * A capability counts when the installed capability image grants it, or when
 * the request carries a capability image in AZSPHERE-CAPABILITIES (base64)
 * that is validly signed and bound to this device. Refusals are 403 {"error": 13}.
 */
export type Access = 'open' | 'app-development' | 'servicing';

export const CAPABILITY_HEADER = 'azsphere-capabilities';
/** A capability image is 392 bytes; anything far larger is not one. */
const MAX_HEADER_IMAGE_BYTES = 4096;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The capabilities sent with this request (empty when absent, malformed, or not for this device). */
export function headerCapabilities(board: EmulatedBoard, req: IncomingMessage): number[] {
  const raw = req.headers[CAPABILITY_HEADER];
  const text = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!text || text.length > (MAX_HEADER_IMAGE_BYTES * 4) / 3 + 4 || !BASE64.test(text)) return [];
  return board.capabilitiesFrom(Buffer.from(text, 'base64'));
}

/** Installed capabilities plus those the request brings. */
export function grantedCapabilities(board: EmulatedBoard, req: IncomingMessage): number[] {
  return [...new Set([...board.capabilities(), ...headerCapabilities(board, req)])];
}

export function authorize(access: Access, granted: readonly number[]): void {
  if (access === 'open') return;
  if (granted.includes(Capability.AppDevelopment)) return;
  if (access === 'servicing' && granted.includes(Capability.FieldServicing)) return;
  const needs = access === 'servicing' ? 'AppDevelopment (11) or FieldServicing (13)' : 'AppDevelopment (11)';
  throw refuse.permission(`this request needs the ${needs} capability`);
}
