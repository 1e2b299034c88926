import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rawSignerFor } from '../pki/raw-signer.js';
import { findSigningRole, generateSigningRoles, loadSigningRoles, type RoleKeys, writeSigningRoles } from '../pki/signing-roles.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { InputError } from '../util/failure.js';
import { BoardStorage, initialBootRecord } from './board-storage.js';
import { createChipRecord, FLASH_FILE, saveChipRecord } from './chip.js';
import { FlashDevice } from './flash/flash-device.js';
import { keystoreBodyFor } from '../firmware/rig-keystore.js';
import { buildOsImageSet, type OsImage } from '../firmware/os-image-set.js';
import { ensureRestCa } from './rest/rest-ca.js';
import { BASELINE_APP_COMPONENT_ID, buildSampleApp } from '../firmware/sample-app.js';

/**
 * Creates emulated chips in a state folder:
 *   <state>/emulator.json      what is here (boards, OS version, keys folder)
 *   <state>/keys/              the rig's signing keys, unless --keys names others
 *   <state>/boards/board-NN/   one chip per board (chip.json, flash.bin, error-reports.json)
 * Every board gets the same baseline OS image set in both OS slots (so a backup
 * exists from the start) and, optionally, a baseline production app.
 */
export const STATE_FILE = 'emulator.json';

export interface EmulatorStateFile {
  format: 'sphere-rig/emulator-state';
  version: 1;
  keysDir: string;
  osVersion: string;
  securityVersion: number;
  trustSdkTestCert: boolean;
  boards: Array<{ name: string; dir: string }>;
}

export interface ProvisionOptions {
  stateDir: string;
  /** Total boards wanted; existing boards are kept, missing ones created. */
  count: number;
  keysDir?: string;
  osVersion?: string;
  securityVersion?: number;
  baselineApp?: boolean;
  /** Also trust Microsoft's public SDK test certificate (dev apps built by the real SDK). */
  trustSdkTestCert?: boolean;
  onProgress?: (message: string) => void;
}


export function readStateFile(stateDir: string): EmulatorStateFile | undefined {
  const path = join(stateDir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let value: Partial<EmulatorStateFile>;
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as Partial<EmulatorStateFile>;
  } catch (error) {
    throw new InputError('state-unreadable', `${path}: not valid JSON (${(error as Error).message})`);
  }
  if (value.format !== 'sphere-rig/emulator-state' || !Array.isArray(value.boards) || typeof value.keysDir !== 'string') {
    throw new InputError('state-format', `${path}: not a sphere-rig emulator state file`);
  }
  return value as EmulatorStateFile;
}


export async function loadOrCreateKeys(keysDir: string, onProgress?: (m: string) => void): Promise<RoleKeys[]> {
  if (existsSync(join(keysDir, 'keys.json'))) return loadSigningRoles(keysDir);
  onProgress?.(`generating signing keys in ${keysDir}`);
  const roles = await generateSigningRoles();
  await writeSigningRoles(keysDir, roles);
  return roles;
}

export async function provisionEmulator(options: ProvisionOptions): Promise<EmulatorStateFile> {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 1000) {
    throw new InputError('bad-count', `--count must be an integer 1..1000, got ${options.count}`);
  }
  const stateDir = resolve(options.stateDir);
  mkdirSync(join(stateDir, 'boards'), { recursive: true });
  const existing = readStateFile(stateDir);
  const keysDir = resolve(options.keysDir ?? existing?.keysDir ?? join(stateDir, 'keys'));
  const roles = await loadOrCreateKeys(keysDir, options.onProgress);
  await ensureRestCa(stateDir);
  const state: EmulatorStateFile = existing ?? {
    format: 'sphere-rig/emulator-state',
    version: 1,
    keysDir,
    osVersion: options.osVersion ?? '22.11',
    securityVersion: options.securityVersion ?? 1,
    trustSdkTestCert: options.trustSdkTestCert ?? true,
    boards: [],
  };
  const osSigner = rawSignerFor(findSigningRole(roles, 'os'));
  let osSet: OsImage[] | undefined;
  let baselineApp: Buffer | undefined;
  const taken = new Set([...state.boards.map((b) => b.name), ...readdirSync(join(stateDir, 'boards'))]);
  let index = 1;
  while (state.boards.length < options.count) {
    const name = `board-${String(index).padStart(2, '0')}`;
    index += 1;
    if (taken.has(name)) continue;
    osSet ??= buildOsImageSet(
      { osVersion: state.osVersion, securityVersion: state.securityVersion, keystorePem: keystoreBodyFor(roles, state.trustSdkTestCert) },
      osSigner,
    );
    if (options.baselineApp) {
      baselineApp ??= buildSampleApp({ name: 'Baseline App', componentId: BASELINE_APP_COMPONENT_ID }, rawSignerFor(findSigningRole(roles, 'production-app')));
    }
    const dir = join(stateDir, 'boards', name);
    await provisionChip(dir, findSigningRole(roles, 'os').cert.toPem(), osSet, baselineApp);
    state.boards.push({ name, dir });
    options.onProgress?.(`provisioned ${name}`);
  }
  writeFileAtomic(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** One chip: identity, baseline set in both OS slots, optional baseline app. */
export async function provisionChip(dir: string, romTrustPem: string, osSet: OsImage[], baselineApp?: Buffer): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const chip = createChipRecord(romTrustPem);
  saveChipRecord(dir, chip);
  const flash = FlashDevice.openFile(join(dir, FLASH_FILE));
  try {
    const storage = new BoardStorage(flash);
    const images = osSet.map((i) => i.bytes);
    await storage.writeOsSlot('a', images);
    await storage.writeOsSlot('b', images);
    const record = initialBootRecord();
    if (baselineApp) {
      await storage.writeAppSlot(0, baselineApp);
      record.apps[BASELINE_APP_COMPONENT_ID] = { slot: 0, previousSlot: null, trial: false, trialFailed: false };
    }
    await storage.writeRecord(record);
    flash.flush();
  } finally {
    flash.close();
  }
}
