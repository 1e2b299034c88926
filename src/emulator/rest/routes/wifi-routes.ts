import { DeviceRefusal } from '../../device-error.js';
import type { EmulatedBoard } from '../../emulated-board.js';
import { WIFI_INTERFACE, type DeviceSettings, type WifiConfigState, type WifiNetworkRecord, type WifiSecurity } from '../device-settings.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { int32Param, type RestRoute } from '../rest-route.js';
import { connectionProblem, currentLink, EMULATED_WIFI_ADDRESS, wifiInterfaceUp } from '../wifi-radio.js';

/**
 * Wi-Fi configuration over the emulated radio (wifi-radio.ts): configured
 * networks (add, list, show, change, remove), connection failure logs, the
 * interface state and power savings, and a scan of the emulated access points.
 * Validation answers the device's own 13631xxx / 10485xxx codes.
 */
const Code = {
  AlreadyExists: 13631490,
  NotFound: 13631491,
  InvalidProperties: 13631496,
  NotConfigured: 13631499,
  SsidTooLong: 13631503,
  KeyTooLong: 13631504,
  InterfaceDisabled: 13631506,
  NoResources: 13631510,
  ConfigNameExists: 13631511,
  PskTooShort: 13631513,
  CertificateIdTooLong: 10485772,
  ConfigNameTooLong: 10485776,
} as const;

/** How many networks the emulated configuration store holds. */
export const MAX_WIFI_NETWORKS = 37;
const SECURITY: readonly WifiSecurity[] = ['open', 'psk', 'eaptls'];
const CONFIG_STATES: readonly WifiConfigState[] = ['unknown', 'enabled', 'disabled', 'temp-disabled'];
const KEY_MANAGEMENT: Readonly<Record<WifiSecurity, string>> = { open: 'NONE', psk: 'WPA2-PSK', eaptls: 'WPA-EAP' };

interface NetworkRequest {
  ssid: string;
  securityState: WifiSecurity;
  psk?: string;
  configState?: WifiConfigState;
  configName?: string;
  targetedScan?: boolean;
  clientIdentity?: string;
  clientCertStoreIdentifier?: string;
  rootCaCertStoreIdentifier?: string;
}

const addBody = requestSchema<NetworkRequest>({
  type: 'object',
  required: ['ssid', 'securityState'],
  properties: {
    ssid: { type: 'string' },
    securityState: { type: 'string', enum: SECURITY },
    psk: { type: 'string' },
    configState: { type: 'string', enum: CONFIG_STATES },
    configName: { type: 'string' },
    targetedScan: { type: 'boolean' },
    clientIdentity: { type: 'string' },
    clientCertStoreIdentifier: { type: 'string' },
    rootCaCertStoreIdentifier: { type: 'string' },
  },
});

const changeBody = requestSchema<{ configState?: WifiConfigState; psk?: string }>({
  type: 'object',
  properties: { configState: { type: 'string', enum: CONFIG_STATES }, psk: { type: 'string' } },
});

const interfaceBody = requestSchema<{ reloadConfig?: boolean; enablePowerSavings?: boolean }>({
  type: 'object',
  properties: { reloadConfig: { type: 'boolean' }, enablePowerSavings: { type: 'boolean' } },
});

const bad = (code: number, detail: string) => new DeviceRefusal(code, 400, detail);

function checkPsk(psk: string): void {
  if (psk.length < 8) throw bad(Code.PskTooShort, `the PSK has ${psk.length} characters; at least 8 are needed`);
  if (psk.length > 63) throw bad(Code.KeyTooLong, `the PSK has ${psk.length} characters; at most 63 are allowed`);
}

function checkNewNetwork(request: NetworkRequest, settings: DeviceSettings): void {
  if (request.ssid.length === 0) throw bad(Code.InvalidProperties, 'the SSID is empty');
  if (Buffer.byteLength(request.ssid) > 32) throw bad(Code.SsidTooLong, 'an SSID has at most 32 bytes');
  if (request.securityState === 'psk') {
    if (request.psk === undefined) throw bad(Code.InvalidProperties, 'a psk network needs its psk');
    checkPsk(request.psk);
  } else if (request.psk !== undefined) {
    throw bad(Code.InvalidProperties, `a ${request.securityState} network takes no psk`);
  }
  if (request.securityState === 'eaptls') {
    if (!request.clientCertStoreIdentifier) throw bad(Code.InvalidProperties, 'an EAP-TLS network needs clientCertStoreIdentifier');
    if ((request.clientIdentity?.length ?? 0) > 254) throw bad(Code.InvalidProperties, 'clientIdentity has at most 254 characters');
  }
  for (const id of [request.clientCertStoreIdentifier, request.rootCaCertStoreIdentifier]) {
    if (id !== undefined && id.length > 16) throw bad(Code.CertificateIdTooLong, `certificate identifier ${JSON.stringify(id)}`);
  }
  if (request.configName !== undefined) {
    if (request.configName.length === 0 || request.configName.length > 16) throw bad(Code.ConfigNameTooLong, `configName has ${request.configName.length} characters`);
    if (settings.wifi.networks.some((n) => n.configName === request.configName)) throw bad(Code.ConfigNameExists, `configName ${request.configName}`);
  }
  if (settings.wifi.networks.some((n) => n.ssid === request.ssid && n.securityState === request.securityState)) {
    throw bad(Code.AlreadyExists, `${request.ssid} (${request.securityState}) is already configured`);
  }
  if (settings.wifi.networks.length >= MAX_WIFI_NETWORKS) throw bad(Code.NoResources, `${MAX_WIFI_NETWORKS} networks are configured`);
}

function networkView(network: WifiNetworkRecord, settings: DeviceSettings): Record<string, unknown> {
  const connected = currentLink(settings)?.network.id === network.id;
  return {
    id: network.id,
    ssid: network.ssid,
    configState: network.configState,
    connectionState: connected ? 'connected' : 'disconnected',
    securityState: network.securityState,
    targetedScan: network.targetedScan,
    ...(network.configName !== undefined ? { configName: network.configName } : {}),
    ...(network.clientIdentity !== undefined ? { clientIdentity: network.clientIdentity } : {}),
    ...(network.clientCertStoreIdentifier !== undefined ? { clientCertStoreIdentifier: network.clientCertStoreIdentifier } : {}),
    ...(network.rootCaCertStoreIdentifier !== undefined ? { rootCaCertStoreIdentifier: network.rootCaCertStoreIdentifier } : {}),
  };
}

function findNetwork(settings: DeviceSettings, id: number): WifiNetworkRecord {
  const network = settings.wifi.networks.find((n) => n.id === id);
  if (!network) throw new DeviceRefusal(Code.NotConfigured, 404, `no configured network ${id}`);
  return network;
}

function failureLog(board: EmulatedBoard, settings: DeviceSettings, network: WifiNetworkRecord): Record<string, unknown> | undefined {
  if (network.configState !== 'enabled' || !wifiInterfaceUp(settings)) return undefined;
  const problem = connectionProblem(network, settings);
  if (!problem) return undefined;
  return {
    timestamp: new Date(board.clock.now()).toISOString(),
    networkId: network.id,
    ssid: network.ssid,
    configState: network.configState,
    connectionState: 'disconnected',
    error: problem,
  };
}

export const wifiRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/wifi/config/networks',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      const s = settings.read();
      res.json({ values: s.wifi.networks.map((n) => networkView(n, s)) });
    },
  },
  {
    method: 'post',
    path: '/wifi/config/networks',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const request = (await readJsonBody(req, addBody, { required: true }))!;
      const view = settings.update((s) => {
        checkNewNetwork(request, s);
        const network: WifiNetworkRecord = {
          id: s.wifi.nextId,
          ssid: request.ssid,
          securityState: request.securityState,
          configState: request.configState ?? 'enabled',
          targetedScan: request.targetedScan ?? false,
          ...(request.psk !== undefined ? { psk: request.psk } : {}),
          ...(request.configName !== undefined ? { configName: request.configName } : {}),
          ...(request.clientIdentity !== undefined ? { clientIdentity: request.clientIdentity } : {}),
          ...(request.clientCertStoreIdentifier !== undefined ? { clientCertStoreIdentifier: request.clientCertStoreIdentifier } : {}),
          ...(request.rootCaCertStoreIdentifier !== undefined ? { rootCaCertStoreIdentifier: request.rootCaCertStoreIdentifier } : {}),
        };
        s.wifi.nextId += 1;
        s.wifi.networks.push(network);
        return networkView(network, s);
      });
      res.status(201).json(view);
    },
  },
  {
    method: 'get',
    path: '/wifi/config/networks/:wifiNetworkId',
    access: 'servicing',
    handle: ({ settings }, { req, res }) => {
      const s = settings.read();
      res.json(networkView(findNetwork(s, int32Param(req, 'wifiNetworkId')), s));
    },
  },
  {
    method: 'patch',
    path: '/wifi/config/networks/:wifiNetworkId',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const id = int32Param(req, 'wifiNetworkId');
      const change = (await readJsonBody(req, changeBody, { required: true }))!;
      const view = settings.update((s) => {
        const network = findNetwork(s, id);
        if (change.psk !== undefined) {
          if (network.securityState !== 'psk') throw bad(Code.InvalidProperties, `network ${id} is ${network.securityState}, not psk`);
          checkPsk(change.psk);
          network.psk = change.psk;
        }
        if (change.configState !== undefined) network.configState = change.configState;
        return networkView(network, s);
      });
      res.json(view);
    },
  },
  {
    method: 'delete',
    path: '/wifi/config/networks/:wifiNetworkId',
    access: 'servicing',
    handle: ({ settings }, { req, res }) => {
      const id = int32Param(req, 'wifiNetworkId');
      settings.update((s) => {
        findNetwork(s, id);
        s.wifi.networks = s.wifi.networks.filter((n) => n.id !== id);
      });
      res.json({});
    },
  },
  {
    method: 'get',
    path: '/wifi/diagnostics/networks',
    access: 'servicing',
    handle: ({ board, settings }, { res }) => {
      const s = settings.read();
      res.json({ values: s.wifi.networks.flatMap((n) => failureLog(board, s, n) ?? []) });
    },
  },
  {
    method: 'get',
    path: '/wifi/diagnostics/networks/:networkId',
    access: 'servicing',
    handle: ({ board, settings }, { req, res }) => {
      const s = settings.read();
      const network = findNetwork(s, int32Param(req, 'networkId'));
      const log = failureLog(board, s, network);
      if (!log) throw new DeviceRefusal(Code.NotFound, 404, `network ${network.id} has no failed connection attempt`);
      res.json(log);
    },
  },
  {
    method: 'get',
    path: '/wifi/interface',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      const s = settings.read();
      const link = currentLink(s);
      const up = wifiInterfaceUp(s);
      const base = {
        address: s.netInterfaces[WIFI_INTERFACE]?.hardwareAddress,
        mode: 'station',
        powerSavingsState: s.wifi.powerSavings ? 'enabled' : 'disabled',
      };
      if (!link) {
        res.json({ ...base, connectionState: 'disconnected', wpa_state: up ? 'SCANNING' : 'INTERFACE_DISABLED' });
        return;
      }
      res.json({
        ...base,
        ssid: link.network.ssid,
        id: link.network.id,
        ...(link.network.configName !== undefined ? { configName: link.network.configName } : {}),
        configState: link.network.configState,
        connectionState: 'connected',
        securityState: link.network.securityState,
        key_mgmt: KEY_MANAGEMENT[link.network.securityState],
        freq: link.accessPoint.freq,
        ip_address: EMULATED_WIFI_ADDRESS,
        wpa_state: 'COMPLETED',
      });
    },
  },
  {
    method: 'patch',
    path: '/wifi/interface',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const change = (await readJsonBody(req, interfaceBody, { required: true }))!;
      // reloadConfig: the emulated radio re-reads the configuration on every request anyway.
      if (change.enablePowerSavings !== undefined) settings.update((s) => (s.wifi.powerSavings = change.enablePowerSavings!));
      res.json({});
    },
  },
  {
    method: 'get',
    path: '/wifi/scan',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      const s = settings.read();
      if (!wifiInterfaceUp(s)) throw bad(Code.InterfaceDisabled, 'the Wi-Fi interface is down');
      res.json({
        values: s.wifiAccessPoints.map(({ bssid, freq, securityState, signal_level, ssid }) => ({ bssid, freq, securityState, signal_level, ssid })),
      });
    },
  },
];
