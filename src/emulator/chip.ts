import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificates } from '../pki/certificate.js';
import { exportPrivateKeyPem, generateSigningKeyPair, publicKeyToPoint } from '../pki/signing-key.js';
import { TrustedKeystore } from '../pki/trusted-keystore.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { InputError } from '../util/failure.js';
import { KeystoreRole } from '../firmware/keystore-image.js';

/**
 * The chip of one emulated board: what survives every reset, power cut and
 * recovery, kept in its state folder. Deleting the folder is replacing the chip.
 *   chip.json   identity key ("e-fused"), ROM trust, fuses, states, boot counter
 *   flash.bin   the flash (see flash/)
 *   error-reports.json   pending error reports
 */
export const SECURITY_STATES = ['TEST', 'BLANK', 'SECURE', 'EOL', 'UNKNOWN'] as const;
export const MANUFACTURING_STATES = ['Blank', 'Module1Complete', 'DeviceComplete', 'Unknown'] as const;

export interface ChipRecord {
  format: 'sphere-rig/chip';
  version: 1;
  /** 128 lower-case hex: the identity public key X || Y. */
  deviceId: string;
  /** PKCS#8 PEM of the identity key; the chip never lets it out of this file. */
  identityKeyPem: string;
  securityState: (typeof SECURITY_STATES)[number];
  manufacturingState: (typeof MANUFACTURING_STATES)[number];
  /** PEM of the OS signing certificate(s) the ROM verifies the 1BL against. */
  romTrustPem: string;
  /** Anti-rollback counters per component ID; they only ever rise. */
  fuses: Record<string, number>;
  bootCount: number;
  /** Base64 of the installed capability image, or null. */
  capabilityImage: string | null;
  /** REST-managed objects (wifi networks, certificates...) kept across resets. */
  settings: Record<string, unknown>;
}

export const CHIP_FILE = 'chip.json';
export const FLASH_FILE = 'flash.bin';
export const ERROR_REPORTS_FILE = 'error-reports.json';

export function createChipRecord(romTrustPem: string): ChipRecord {
  const identity = generateSigningKeyPair();
  return {
    format: 'sphere-rig/chip',
    version: 1,
    deviceId: publicKeyToPoint(identity.publicKey).toString('hex'),
    identityKeyPem: exportPrivateKeyPem(identity.privateKey),
    securityState: 'SECURE',
    manufacturingState: 'DeviceComplete',
    romTrustPem,
    fuses: {},
    bootCount: 0,
    capabilityImage: null,
    settings: {},
  };
}

/** What the chip's ROM verifies the (recovery) 1BL and the OS set against: its OS signing certificates. */
export function romTrustOf(chip: ChipRecord): TrustedKeystore {
  return TrustedKeystore.of(parseCertificates(chip.romTrustPem, 'ROM trust').map((cert) => ({ cert, role: KeystoreRole.Os })));
}

export function loadChipRecord(boardDir: string): ChipRecord {
  const path = join(boardDir, CHIP_FILE);
  if (!existsSync(path)) throw new InputError('chip-missing', `${path}: no chip here; run \`sphere-rig emulator provision\` first`);
  let value: Partial<ChipRecord>;
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as Partial<ChipRecord>;
  } catch (error) {
    throw new InputError('chip-unreadable', `${path}: not valid JSON (${(error as Error).message})`);
  }
  if (value.format !== 'sphere-rig/chip' || value.version !== 1) {
    throw new InputError('chip-format', `${path}: not a sphere-rig chip file (format ${String(value.format)}, version ${String(value.version)})`);
  }
  for (const field of ['deviceId', 'identityKeyPem', 'romTrustPem'] as const) {
    if (typeof value[field] !== 'string') throw new InputError('chip-format', `${path}: field ${field} missing or not a string`);
  }
  return { fuses: {}, settings: {}, bootCount: 0, capabilityImage: null, ...value } as ChipRecord;
}

export function saveChipRecord(boardDir: string, chip: ChipRecord): void {
  writeFileAtomic(join(boardDir, CHIP_FILE), `${JSON.stringify(chip, null, 2)}\n`, 0o600);
}

export function identityKeyOf(chip: ChipRecord): KeyObject {
  return createPrivateKey(chip.identityKeyPem);
}
