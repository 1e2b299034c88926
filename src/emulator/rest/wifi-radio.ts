import { WIFI_INTERFACE, type DeviceSettings, type EmulatedAccessPoint, type WifiNetworkRecord } from './device-settings.js';

/**
 * The emulated Wi-Fi radio: no frames leave the machine. A configured network
 * "connects" when it is enabled, the Wi-Fi interface is up, an emulated access
 * point with its SSID is in range, and the credentials fit (same security type,
 * the access point's PSK, or EAP-TLS with its certificates in the store). The
 * lowest-numbered such network wins, as a device prefers the first it joins.
 */
export type WifiConnectionError = 'NetworkNotFound' | 'WrongKey' | 'SecurityTypeMismatch' | 'AuthenticationFailed';

export interface WifiLink {
  network: WifiNetworkRecord;
  accessPoint: EmulatedAccessPoint;
}

/** TEST-NET-1 (RFC 5737): a documentation address, never routed anywhere. */
export const EMULATED_WIFI_ADDRESS = '192.0.2.10';

export function wifiInterfaceUp(settings: DeviceSettings): boolean {
  return settings.netInterfaces[WIFI_INTERFACE]?.interfaceUp ?? true;
}

/** Why this network is not connected, or undefined if it can connect. */
export function connectionProblem(network: WifiNetworkRecord, settings: DeviceSettings): WifiConnectionError | undefined {
  const accessPoint = settings.wifiAccessPoints.find((ap) => ap.ssid === network.ssid);
  if (!accessPoint) return 'NetworkNotFound';
  if (accessPoint.securityState !== network.securityState) return 'SecurityTypeMismatch';
  if (network.securityState === 'psk' && accessPoint.psk !== network.psk) return 'WrongKey';
  if (network.securityState === 'eaptls') {
    const client = settings.certstore.find((c) => c.id === network.clientCertStoreIdentifier && c.certType === 'Client');
    if (!client) return 'AuthenticationFailed';
  }
  return undefined;
}

export function currentLink(settings: DeviceSettings): WifiLink | undefined {
  if (!wifiInterfaceUp(settings)) return undefined;
  const candidates = settings.wifi.networks.filter((n) => n.configState === 'enabled').sort((a, b) => a.id - b.id);
  for (const network of candidates) {
    if (connectionProblem(network, settings) === undefined) {
      return { network, accessPoint: settings.wifiAccessPoints.find((ap) => ap.ssid === network.ssid)! };
    }
  }
  return undefined;
}
