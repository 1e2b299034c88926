import type { AsxipfsEntryType, AsxipfsImage } from './asxipfs.js';
import { FormatError } from './format-error.js';

/*
 * app_manifest.json: what an application asks of the device. Validation follows what a
 * device checks at sideload; each rejection is a FormatError whose `deviceErrorCode` is
 * the code a real device answers and whose `jsonPath` points at the offending value.
 *
 * | check                                                      | code                                      | device code |
 * | ---------------------------------------------------------- | ----------------------------------------- | ----------- |
 * | bytes not UTF-8, JSON syntax error, top level not an object | manifest-unparseable                      | 2097153 |
 * | SchemaVersion missing or not an integer                    | manifest-schema-version-missing           | 2097156 |
 * | SchemaVersion not 1                                        | manifest-schema-version-incompatible      | 2097169 |
 * | Name missing or not a non-empty string (no dedicated code) | manifest-name-invalid                     | 2097153 |
 * | ComponentId missing or not a GUID (no dedicated code)      | manifest-component-id-invalid             | 2097153 |
 * | EntryPoint missing or not a string                         | manifest-entry-point-missing              | 2097155 |
 * | EntryPoint empty, '.'/'..'/empty segments, NUL, trailing / | manifest-entry-point-invalid              | 2097168 |
 * | EntryPoint not in the image's file system                  | manifest-entry-point-not-found            | 2097174 |
 * | EntryPoint names a directory or symlink                    | manifest-entry-point-not-a-file           | 2097175 |
 * | app_manifest.json absent from the image                    | manifest-missing                          | 2097177 |
 * | CmdArgs missing or not an array of strings                 | manifest-cmd-args-invalid                 | 2097157 |
 * | Capabilities missing or not an object                      | manifest-capabilities-invalid             | 2097158 |
 * | ApplicationType neither 'Default' nor 'RealTimeCapable'    | manifest-application-type-unknown         | 2097178 |
 * | Gpio not an array of non-negative integers                 | manifest-gpio-invalid                     | 2097162 |
 * | Uart, I2cMaster, SpiMaster, Pwm, Adc not arrays of names   | manifest-peripheral-invalid               | 2097165 |
 * | AllowedConnections not an array of non-empty strings       | manifest-allowed-connections-invalid      | 2097161 |
 * | AllowedApplicationConnections not an array of GUIDs        | manifest-allowed-application-connections-invalid | 2097195 |
 * | AllowedTcpServerPorts / AllowedUdpServerPorts not an array | manifest-tcp-ports-invalid / -udp-        | 2097188 / 2097189 |
 * | ... an element not an integer 1..65535                     | manifest-tcp-port-value / -udp-           | 2097190 / 2097191 |
 * | DeviceAuthentication not a string, or not a GUID           | manifest-device-authentication-invalid    | 2097176 |
 * | DeviceAuthentication longer than a GUID (36 chars)         | manifest-device-authentication-too-long   | 2097181 |
 * | MutableStorage not an object                               | manifest-mutable-storage-not-object       | 2097183 |
 * | MutableStorage without SizeKB                              | manifest-mutable-storage-no-size          | 2097184 |
 * | SizeKB not a positive integer                              | manifest-mutable-storage-invalid          | 2097185 |
 * | SizeKB over 64 (the documented maximum)                    | manifest-mutable-storage-too-large        | 2097186 |
 * | WifiConfig, EnterpriseWifiConfig, SystemTime, TimeSyncConfig, DhcpService, SntpService,
 * |   CertStore, SystemEventNotifications, SoftwareUpdateDeferral not a boolean: their own codes
 * |   2097167, 2097197, 2097182, 2097192, 2097193, 2097194, 2097196, 2097198, 2097199 (manifest-capability-not-boolean)
 * | NetworkConfig not a boolean (no dedicated code)            | manifest-capability-not-boolean           | 2097158 |
 * | PowerControls not an array of strings, or duplicates       | manifest-power-controls-invalid           | 2097200 |
 * | PowerControls empty                                        | manifest-power-controls-empty             | 2097201 |
 * | PowerControls value not ForcePowerDown/ForceReboot/SetPowerProfile | manifest-power-controls-value     | 2097202 |
 *
 * Unknown top-level and capability keys are kept untouched (newer SDKs add fields such
 * as TargetApplicationRuntimeVersion). Whether a pin or peripheral exists on the board,
 * or clashes with another app's, is the device model's business, not this parser's.
 */

export const APP_MANIFEST_FILE_NAME = 'app_manifest.json';
export const APP_MANIFEST_SCHEMA_VERSION = 1;
export const MUTABLE_STORAGE_MAX_SIZE_KB = 64;
export const POWER_CONTROLS = ['ForcePowerDown', 'ForceReboot', 'SetPowerProfile'] as const;
export const APPLICATION_TYPES = ['Default', 'RealTimeCapable'] as const;

export type ApplicationType = (typeof APPLICATION_TYPES)[number];
export type PowerControl = (typeof POWER_CONTROLS)[number];

export interface AppManifestCapabilities {
  Gpio?: number[];
  Uart?: string[];
  I2cMaster?: string[];
  SpiMaster?: string[];
  Pwm?: string[];
  Adc?: string[];
  AllowedConnections?: string[];
  AllowedApplicationConnections?: string[];
  AllowedTcpServerPorts?: number[];
  AllowedUdpServerPorts?: number[];
  /** The tenant GUID. */
  DeviceAuthentication?: string;
  WifiConfig?: boolean;
  EnterpriseWifiConfig?: boolean;
  MutableStorage?: { SizeKB: number; [key: string]: unknown };
  SystemTime?: boolean;
  TimeSyncConfig?: boolean;
  DhcpService?: boolean;
  SntpService?: boolean;
  CertStore?: boolean;
  SystemEventNotifications?: boolean;
  SoftwareUpdateDeferral?: boolean;
  PowerControls?: PowerControl[];
  NetworkConfig?: boolean;
  [key: string]: unknown;
}

export interface AppManifest {
  SchemaVersion: number;
  Name: string;
  ComponentId: string;
  /** Path of the executable in the image's file system, e.g. '/bin/app'. */
  EntryPoint: string;
  CmdArgs: string[];
  Capabilities: AppManifestCapabilities;
  ApplicationType?: ApplicationType;
  [key: string]: unknown;
}

/** What `validateManifestAgainstFiles` needs of a file-system entry (an AsxipfsEntry fits). */
export interface ManifestFileEntry {
  path: string;
  type: AsxipfsEntryType;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

type PathSegment = string | number;

function jsonPathOf(segments: readonly PathSegment[]): string {
  return segments
    .map((segment) =>
      typeof segment === 'number'
        ? `[${segment}]`
        : /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)
          ? `.${segment}`
          : `[${JSON.stringify(segment)}]`,
    )
    .reduce((path, part) => path + part, '$');
}

function reject(code: string, deviceErrorCode: number, message: string, segments: readonly PathSegment[] = []): never {
  throw new FormatError(`manifest-${code}`, message, { jsonPath: jsonPathOf(segments), deviceErrorCode, file: APP_MANIFEST_FILE_NAME });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(object: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** Parses app_manifest.json bytes or text and validates it as a device does. */
export function parseAppManifest(input: Buffer | Uint8Array | string): AppManifest {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      reject('unparseable', 2097153, 'manifest is not valid UTF-8');
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    reject('unparseable', 2097153, `manifest is not valid JSON: ${(error as Error).message}`);
  }
  return validateAppManifest(value);
}

/** Validates an already-parsed manifest object; returns it typed (the same object). */
export function validateAppManifest(value: unknown): AppManifest {
  if (!isObject(value)) reject('unparseable', 2097153, 'manifest is not a JSON object');

  const schema = value.SchemaVersion;
  if (typeof schema !== 'number' || !Number.isInteger(schema)) {
    reject('schema-version-missing', 2097156, 'SchemaVersion must be an integer', ['SchemaVersion']);
  }
  if (schema !== APP_MANIFEST_SCHEMA_VERSION) {
    reject('schema-version-incompatible', 2097169, `SchemaVersion ${schema} is not ${APP_MANIFEST_SCHEMA_VERSION}`, ['SchemaVersion']);
  }
  if (typeof value.Name !== 'string' || value.Name === '') reject('name-invalid', 2097153, 'Name must be a non-empty string', ['Name']);
  if (typeof value.ComponentId !== 'string' || !GUID.test(value.ComponentId)) {
    reject('component-id-invalid', 2097153, 'ComponentId must be a GUID (8-4-4-4-12 hex digits)', ['ComponentId']);
  }
  checkEntryPoint(value.EntryPoint);
  checkCmdArgs(value);
  if (!isObject(value.Capabilities)) reject('capabilities-invalid', 2097158, 'Capabilities must be an object', ['Capabilities']);
  checkCapabilities(value.Capabilities);
  if (has(value, 'ApplicationType') && !(APPLICATION_TYPES as readonly unknown[]).includes(value.ApplicationType)) {
    reject('application-type-unknown', 2097178, `ApplicationType must be one of ${APPLICATION_TYPES.join(', ')}`, ['ApplicationType']);
  }
  return value as AppManifest;
}

function checkEntryPoint(entryPoint: unknown): void {
  const at = ['EntryPoint'];
  if (typeof entryPoint !== 'string') reject('entry-point-missing', 2097155, 'EntryPoint must be a string', at);
  const relative = entryPoint.startsWith('/') ? entryPoint.slice(1) : entryPoint;
  const segments = relative.split('/');
  if (relative === '' || entryPoint.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    reject('entry-point-invalid', 2097168, `EntryPoint "${entryPoint}" is not a path to a file in the image`, at);
  }
}

function checkCmdArgs(manifest: Record<string, unknown>): void {
  const args = manifest.CmdArgs;
  if (!Array.isArray(args)) reject('cmd-args-invalid', 2097157, 'CmdArgs must be an array of strings', ['CmdArgs']);
  args.forEach((arg, index) => {
    if (typeof arg !== 'string') reject('cmd-args-invalid', 2097157, 'CmdArgs must hold only strings', ['CmdArgs', index]);
  });
}

/** Capabilities whose value must be a boolean, each with its device code. */
const BOOLEAN_CAPABILITIES: Readonly<Record<string, number>> = {
  WifiConfig: 2097167,
  EnterpriseWifiConfig: 2097197,
  SystemTime: 2097182,
  TimeSyncConfig: 2097192,
  DhcpService: 2097193,
  SntpService: 2097194,
  CertStore: 2097196,
  SystemEventNotifications: 2097198,
  SoftwareUpdateDeferral: 2097199,
  NetworkConfig: 2097158,
};

const PERIPHERAL_CAPABILITIES = ['Uart', 'I2cMaster', 'SpiMaster', 'Pwm', 'Adc'] as const;

function checkCapabilities(caps: Record<string, unknown>): void {
  const at = (...rest: PathSegment[]): PathSegment[] => ['Capabilities', ...rest];

  if (has(caps, 'Gpio')) {
    const gpio = arrayOf(caps.Gpio, 'gpio-invalid', 2097162, 'Gpio', at('Gpio'));
    gpio.forEach((pin, i) => {
      if (typeof pin !== 'number' || !Number.isSafeInteger(pin) || pin < 0) {
        reject('gpio-invalid', 2097162, 'Gpio must hold non-negative integers', at('Gpio', i));
      }
    });
  }
  for (const key of PERIPHERAL_CAPABILITIES) {
    if (!has(caps, key)) continue;
    arrayOf(caps[key], 'peripheral-invalid', 2097165, key, at(key)).forEach((name, i) => {
      if (typeof name !== 'string' || name === '') reject('peripheral-invalid', 2097165, `${key} must hold peripheral names`, at(key, i));
    });
  }
  if (has(caps, 'AllowedConnections')) {
    arrayOf(caps.AllowedConnections, 'allowed-connections-invalid', 2097161, 'AllowedConnections', at('AllowedConnections')).forEach((host, i) => {
      if (typeof host !== 'string' || host === '') {
        reject('allowed-connections-invalid', 2097161, 'AllowedConnections must hold host names or addresses', at('AllowedConnections', i));
      }
    });
  }
  if (has(caps, 'AllowedApplicationConnections')) {
    const key = 'AllowedApplicationConnections';
    arrayOf(caps[key], 'allowed-application-connections-invalid', 2097195, key, at(key)).forEach((id, i) => {
      if (typeof id !== 'string' || !GUID.test(id)) reject('allowed-application-connections-invalid', 2097195, `${key} must hold component GUIDs`, at(key, i));
    });
  }
  checkPorts(caps, 'AllowedTcpServerPorts', 'tcp', 2097188, 2097190);
  checkPorts(caps, 'AllowedUdpServerPorts', 'udp', 2097189, 2097191);

  if (has(caps, 'DeviceAuthentication')) {
    const tenant = caps.DeviceAuthentication;
    if (typeof tenant !== 'string') reject('device-authentication-invalid', 2097176, 'DeviceAuthentication must be a tenant GUID string', at('DeviceAuthentication'));
    if (tenant.length > 36) reject('device-authentication-too-long', 2097181, 'DeviceAuthentication is longer than a GUID', at('DeviceAuthentication'));
    if (!GUID.test(tenant)) reject('device-authentication-invalid', 2097176, 'DeviceAuthentication must be a tenant GUID', at('DeviceAuthentication'));
  }

  if (has(caps, 'MutableStorage')) {
    const storage = caps.MutableStorage;
    if (!isObject(storage)) reject('mutable-storage-not-object', 2097183, 'MutableStorage must be an object', at('MutableStorage'));
    if (!has(storage, 'SizeKB')) reject('mutable-storage-no-size', 2097184, 'MutableStorage must include SizeKB', at('MutableStorage'));
    const sizeKB = storage.SizeKB;
    if (typeof sizeKB !== 'number' || !Number.isSafeInteger(sizeKB) || sizeKB <= 0) {
      reject('mutable-storage-invalid', 2097185, 'MutableStorage.SizeKB must be a positive integer', at('MutableStorage', 'SizeKB'));
    }
    if (sizeKB > MUTABLE_STORAGE_MAX_SIZE_KB) {
      reject('mutable-storage-too-large', 2097186, `MutableStorage.SizeKB ${sizeKB} exceeds ${MUTABLE_STORAGE_MAX_SIZE_KB}`, at('MutableStorage', 'SizeKB'));
    }
  }

  for (const [key, deviceCode] of Object.entries(BOOLEAN_CAPABILITIES)) {
    if (has(caps, key) && typeof caps[key] !== 'boolean') reject('capability-not-boolean', deviceCode, `${key} must be true or false`, at(key));
  }

  if (has(caps, 'PowerControls')) {
    const controls = arrayOf(caps.PowerControls, 'power-controls-invalid', 2097200, 'PowerControls', at('PowerControls'));
    if (controls.length === 0) reject('power-controls-empty', 2097201, 'PowerControls is empty', at('PowerControls'));
    const seen = new Set<unknown>();
    controls.forEach((control, i) => {
      if (typeof control !== 'string' || seen.has(control)) reject('power-controls-invalid', 2097200, 'PowerControls must hold distinct strings', at('PowerControls', i));
      if (!(POWER_CONTROLS as readonly string[]).includes(control)) {
        reject('power-controls-value', 2097202, `PowerControls value "${control}" is not one of ${POWER_CONTROLS.join(', ')}`, at('PowerControls', i));
      }
      seen.add(control);
    });
  }
}

function arrayOf(value: unknown, code: string, deviceCode: number, key: string, path: PathSegment[]): unknown[] {
  if (!Array.isArray(value)) reject(code, deviceCode, `${key} must be an array`, path);
  return value;
}

function checkPorts(caps: Record<string, unknown>, key: string, protocol: 'tcp' | 'udp', unparseable: number, invalidValue: number): void {
  if (!has(caps, key)) return;
  arrayOf(caps[key], `${protocol}-ports-invalid`, unparseable, key, ['Capabilities', key]).forEach((port, i) => {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      reject(`${protocol}-port-value`, invalidValue, `${key} must hold port numbers 1..65535`, ['Capabilities', key, i]);
    }
  });
}

/** The EntryPoint as a path in the file system ('/bin/app' -> 'bin/app'). */
export function entryPointPath(manifest: Pick<AppManifest, 'EntryPoint'>): string {
  return manifest.EntryPoint.startsWith('/') ? manifest.EntryPoint.slice(1) : manifest.EntryPoint;
}

/** The checks that need the image's file system: the EntryPoint exists and is a regular file. */
export function validateManifestAgainstFiles(manifest: AppManifest, entries: ReadonlyArray<ManifestFileEntry>): void {
  const path = entryPointPath(manifest);
  const entry = entries.find((candidate) => candidate.path === path);
  if (entry === undefined) reject('entry-point-not-found', 2097174, `EntryPoint "${manifest.EntryPoint}" does not exist in the image`, ['EntryPoint']);
  if (entry.type !== 'file') reject('entry-point-not-a-file', 2097175, `EntryPoint "${manifest.EntryPoint}" is a ${entry.type}, not a file`, ['EntryPoint']);
}

/** Reads, parses and checks an image's app_manifest.json as a device does at sideload. */
export function readAppManifestFromImage(image: AsxipfsImage): AppManifest {
  const entry = image.getEntry(APP_MANIFEST_FILE_NAME);
  if (entry === undefined || entry.type !== 'file') reject('missing', 2097177, `the image has no ${APP_MANIFEST_FILE_NAME} file`);
  const manifest = parseAppManifest(image.readFile(APP_MANIFEST_FILE_NAME));
  validateManifestAgainstFiles(manifest, image.entries);
  return manifest;
}

/** Compact JSON, keys in their given order, as the SDK packs it. Does not validate, so tests can build bad manifests. */
export function serializeAppManifest(manifest: AppManifest): string {
  return JSON.stringify(manifest);
}
