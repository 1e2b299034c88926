/**
 * The JSON shapes of the device REST API, after device_rest_api.yaml (field
 * names exactly as the device sends them). Optional where the spec requires
 * nothing, so a real device that leaves a field out still fits.
 */
export type SecurityState = 'TEST' | 'BLANK' | 'SECURE' | 'EOL' | 'UNKNOWN';
export type ManufacturingState = 'Blank' | 'Module1Complete' | 'DeviceComplete' | 'Unknown';
export type AppState = 'running' | 'notPresent' | 'stopped' | 'debugging';
export type AppTrigger = 'start' | 'startDebug' | 'stop';

export interface DeviceStatus {
  uptime: number;
  /** From the REST-API-Version header of the answer, e.g. "4.5.0". */
  apiVersion: string | undefined;
}

export interface AbiVersionSet {
  SecureWorldRuntime?: number;
  OSRuntime?: number;
  ApplicationRuntime?: number;
}

export interface SecurityStateInfo {
  securityState?: SecurityState;
  /** 128 lower-case hex characters. */
  deviceIdentifier?: string;
  /** Deprecated by Microsoft. */
  deviceIdentityPublicKey?: string;
}

export interface ImageDetails {
  uid?: string;
  length_in_bytes?: number;
  uncompressed_length_in_bytes?: number;
  replica_type?: number;
}

export interface ComponentDetails {
  uid?: string;
  image_type?: number;
  is_update_staged?: boolean;
  does_image_type_require_restart?: boolean;
  name?: string;
  images?: ImageDetails[];
}

export interface ComponentList {
  is_ota_update_in_progress?: boolean;
  has_staged_updates?: boolean;
  restart_required?: boolean;
  components?: ComponentDetails[];
}

export interface SystemRestart {
  restartingSystem: boolean;
}

export interface AppStateChange {
  state: AppState;
  realTimeCore?: number;
}

export interface QuotaInfo {
  UsageKB?: number;
  LimitKB?: number;
}

export interface CertificateInfo {
  id?: string;
  notBefore?: string;
  notAfter?: string;
  subjectName?: string;
  issuerName?: string;
}

export interface CertificateInstall {
  certType: 'Client' | 'RootCA';
  publicCert: string;
  privateKey?: string;
  password?: string;
}

export type WifiSecurityState = 'unknown' | 'open' | 'psk' | 'eaptls';
export type WifiConfigState = 'unknown' | 'enabled' | 'disabled' | 'temp-disabled';

export interface WifiNetworkRequest {
  ssid: string;
  securityState: 'open' | 'psk' | 'eaptls';
  psk?: string;
  configState?: WifiConfigState;
  configName?: string;
  targetedScan?: boolean;
  clientIdentity?: string;
  clientCertStoreIdentifier?: string;
  rootCaCertStoreIdentifier?: string;
}

export interface WifiNetworkConfig {
  id: number;
  ssid?: string;
  configState: WifiConfigState;
  connectionState: 'unknown' | 'disconnected' | 'connected';
  securityState: WifiSecurityState;
  targetedScan: boolean;
  configName?: string;
  clientIdentity?: string;
  clientCertStoreIdentifier?: string;
  rootCaCertStoreIdentifier?: string;
}

export interface WifiInterfaceState {
  address?: string;
  configName?: string;
  configState?: WifiConfigState;
  connectionState?: 'unknown' | 'disconnected' | 'connected';
  freq?: number;
  key_mgmt?: string;
  mode?: string;
  id?: number;
  ip_address?: string;
  securityState?: WifiSecurityState;
  ssid?: string;
  wpa_state?: string;
  powerSavingsState?: 'unknown' | 'enabled' | 'disabled';
}

export interface WifiConnectionFailure {
  timestamp?: string;
  networkId?: number;
  ssid?: string;
  configState?: WifiConfigState;
  connectionState?: string;
  error?: string;
  certInfo?: { certSubject?: string; certDepth?: number; certError?: string };
}

export interface WifiScanResult {
  bssid?: string;
  freq?: number;
  securityState?: WifiSecurityState;
  signal_level?: number;
  ssid?: string;
}

export interface NetworkStatus {
  deviceAuthenticationIsReady?: boolean;
  networkTimeSync?: 'complete' | 'incomplete' | 'disabled';
  proxy?: 'disabled' | 'enabled' | 'resolvingProxyName' | 'ready';
}

export interface NetworkInterface {
  interfaceName?: string;
  interfaceUp?: boolean;
  connectedToNetwork?: boolean;
  ipAssignment?: 'static' | 'dynamic';
  ipAcquired?: boolean;
  ipAddresses?: string[];
  connectedToInternet?: boolean;
  hardwareAddress?: string;
}

export interface FirewallRule {
  sourceIP?: string;
  sourceMask?: string;
  destinationIP?: string;
  destinationMask?: string;
  uid?: number;
  action?: 'drop' | 'accept';
  interfaceInName?: string;
  interfaceOutName?: string;
  state?: 'none' | 'established' | 'related';
  tcpMask?: string[];
  tcpCmp?: string[];
  tcpInv?: boolean;
  protocol?: 'any' | 'icmp' | 'igmp' | 'tcp' | 'udp';
  sourcePortRange?: { min?: number; max?: number };
  destinationPortRange?: { min?: number; max?: number };
  packets?: number;
  bytes?: number;
}

export interface FirewallRuleset {
  hook?: 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
  isValid?: boolean;
  rules?: FirewallRule[];
}

export interface NetworkProxy {
  enabled?: boolean;
  address?: string;
  port?: number;
  noProxyAddresses?: string[];
  authenticationType?: 'anonymous' | 'basic';
  username?: string;
  /** Only ever sent, never read back. */
  password?: string;
}

export interface MemoryStatistics {
  memoryStats?: { currentMemoryUsageInBytes?: number; userModeMemoryUsageInBytes?: number; peakUserModeMemoryUsageInBytes?: number };
  apps?: Array<{ componentId?: string; processes?: Array<{ pid?: number; heapUsageByCaller?: Array<{ name?: string; usageInBytes?: number }> }> }>;
}
