import { createHash } from 'node:crypto';
import type { EmulatedBoard } from '../emulated-board.js';

/**
 * The objects the REST API manages (Wi-Fi networks, certificates, the proxy,
 * network interface settings), kept in the chip record's `settings` so that
 * they survive resets and power cuts as a device's configuration store does.
 * Each lives under its own key; a key holding something unreadable (a hand
 * edit gone wrong) is replaced by its default rather than stopping the board.
 *
 *   settings.wifi            { nextId, powerSavings, networks: [...] }
 *   settings.wifiAccessPoints  the emulated radio's surroundings (edit chip.json to change)
 *   settings.certstore       [{ id, certType, publicCertPem, privateKeyPem? }]
 *   settings.proxy           the proxy configuration, or null
 *   settings.netInterfaces   { <name>: { interfaceUp, hardwareAddress } }
 */
export type WifiSecurity = 'open' | 'psk' | 'eaptls';
export type WifiConfigState = 'unknown' | 'enabled' | 'disabled' | 'temp-disabled';

export interface WifiNetworkRecord {
  id: number;
  ssid: string;
  securityState: WifiSecurity;
  configState: WifiConfigState;
  targetedScan: boolean;
  psk?: string;
  configName?: string;
  clientIdentity?: string;
  clientCertStoreIdentifier?: string;
  rootCaCertStoreIdentifier?: string;
}

export interface WifiSettings {
  nextId: number;
  powerSavings: boolean;
  networks: WifiNetworkRecord[];
}

/** A network the emulated radio can see; `psk` is what it accepts (never served). */
export interface EmulatedAccessPoint {
  ssid: string;
  bssid: string;
  freq: number;
  signal_level: number;
  securityState: WifiSecurity;
  psk?: string;
}

export interface StoredCertificate {
  id: string;
  certType: 'Client' | 'RootCA';
  publicCertPem: string;
  /** Unencrypted PKCS#8 PEM; the chip file is mode 0600. */
  privateKeyPem?: string;
}

export interface ProxySettings {
  enabled: boolean;
  address: string;
  port: number;
  noProxyAddresses: string[];
  authenticationType: 'anonymous' | 'basic';
  username?: string;
  password?: string;
}

export interface InterfaceSettings {
  interfaceUp: boolean;
  hardwareAddress?: string;
}

export interface DeviceSettings {
  wifi: WifiSettings;
  wifiAccessPoints: EmulatedAccessPoint[];
  certstore: StoredCertificate[];
  proxy: ProxySettings | null;
  netInterfaces: Record<string, InterfaceSettings>;
}

/** The service link (always up, no hardware address) and the Wi-Fi interface. */
export const SERVICE_INTERFACE = 'azspheresvc';
export const WIFI_INTERFACE = 'wlan0';

export const DEFAULT_ACCESS_POINTS: readonly EmulatedAccessPoint[] = Object.freeze([
  { ssid: 'sphere-rig-lab', bssid: '02:53:52:00:00:01', freq: 2437, signal_level: -48, securityState: 'psk', psk: 'sphere-rig-lab-psk' },
  { ssid: 'sphere-rig-open', bssid: '02:53:52:00:00:02', freq: 5180, signal_level: -67, securityState: 'open' },
]);

/** A locally administered MAC derived from the device ID, stable per chip. */
export function defaultHardwareAddress(deviceId: string, interfaceName: string): string {
  const bytes = createHash('sha256').update(`${deviceId}/${interfaceName}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class DeviceSettingsStore {
  constructor(private readonly board: EmulatedBoard) {}

  /** A fresh copy of every setting, defaults filled in. */
  read(): DeviceSettings {
    const raw = this.board.chip.settings;
    const wifi = isObject(raw.wifi) && Array.isArray(raw.wifi.networks) && typeof raw.wifi.nextId === 'number' ? (raw.wifi as unknown as WifiSettings) : undefined;
    const interfaces = isObject(raw.netInterfaces) ? (raw.netInterfaces as Record<string, InterfaceSettings>) : {};
    const settings: DeviceSettings = {
      wifi: wifi ? { nextId: wifi.nextId, powerSavings: wifi.powerSavings === true, networks: wifi.networks } : { nextId: 0, powerSavings: false, networks: [] },
      wifiAccessPoints: Array.isArray(raw.wifiAccessPoints) ? (raw.wifiAccessPoints as EmulatedAccessPoint[]) : [...DEFAULT_ACCESS_POINTS],
      certstore: Array.isArray(raw.certstore) ? (raw.certstore as StoredCertificate[]) : [],
      proxy: isObject(raw.proxy) ? (raw.proxy as unknown as ProxySettings) : null,
      netInterfaces: {
        [SERVICE_INTERFACE]: { interfaceUp: true },
        [WIFI_INTERFACE]: {
          interfaceUp: interfaces[WIFI_INTERFACE]?.interfaceUp ?? true,
          hardwareAddress: interfaces[WIFI_INTERFACE]?.hardwareAddress ?? defaultHardwareAddress(this.board.deviceId, WIFI_INTERFACE),
        },
      },
    };
    return structuredClone(settings);
  }

  /** Change settings and save the chip record (atomically, as every chip write is). */
  update<T>(change: (settings: DeviceSettings) => T): T {
    const settings = this.read();
    const result = change(settings);
    const target = this.board.chip.settings;
    target.wifi = settings.wifi;
    target.certstore = settings.certstore;
    target.proxy = settings.proxy;
    target.netInterfaces = { [WIFI_INTERFACE]: settings.netInterfaces[WIFI_INTERFACE] };
    this.board.saveChip();
    return result;
  }
}
