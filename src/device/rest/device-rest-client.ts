import { fileURLToPath } from 'node:url';
import { InputError } from '../../util/failure.js';
import { DeviceRefusedError, DeviceRestError } from './device-rest-errors.js';
import { DeviceRestTransport, type DeviceRestTransportOptions, type RestMethod, type RestRequest, type RestResponse } from './device-rest-transport.js';
import type {
  AbiVersionSet,
  AppState,
  AppStateChange,
  AppTrigger,
  CertificateInfo,
  CertificateInstall,
  ComponentList,
  DeviceStatus,
  FirewallRuleset,
  ManufacturingState,
  MemoryStatistics,
  NetworkInterface,
  NetworkProxy,
  NetworkStatus,
  QuotaInfo,
  SecurityStateInfo,
  SystemRestart,
  WifiConnectionFailure,
  WifiInterfaceState,
  WifiNetworkConfig,
  WifiNetworkRequest,
  WifiScanResult,
} from './device-rest-types.js';

/**
 * A typed client for every operation of the device REST API
 * (device_rest_api.yaml). One instance per board: the base URL says where
 * (https://192.168.35.N for a real board, https://127.0.0.1:PORT for an
 * emulated one), the CA PEM what to trust (REAL_DEVICE_CA_PATH for real
 * boards, the rig's REST CA for emulated ones). Every call takes a timeout and
 * an AbortSignal; a refusal is a DeviceRefusedError carrying the device's code.
 */
export const REAL_DEVICE_CA_PATH = fileURLToPath(new URL('../../../fixtures/azure-sphere/device-rest-api-ca.pem', import.meta.url));

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SideloadOptions extends CallOptions {
  /** Bytes of the image(s) sent so far, and the total over all of them. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** 'Manual': the installed app is left stopped. */
  appControlMode?: 'Auto' | 'Manual';
}

/** Images take longer than a status call: 30 s plus one per 256 KiB (a 921600-baud SLIP link moves ~90 KiB/s). */
function uploadTimeoutMs(bytes: number): number {
  return 30_000 + Math.ceil(bytes / (256 * 1024)) * 1_000 * 3;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function componentPath(prefix: string, componentId: string): string {
  if (!GUID.test(componentId)) throw new InputError('bad-component-id', `component ID ${JSON.stringify(componentId)} is not a GUID`);
  return `${prefix}/${componentId.toLowerCase()}`;
}

function namePath(prefix: string, name: string | number): string {
  const text = String(name);
  if (text.length === 0 || text.length > 64) throw new InputError('bad-name', `${prefix}: name ${JSON.stringify(text)} must be 1..64 characters`);
  return `${prefix}/${encodeURIComponent(text)}`;
}

export class DeviceRestClient {
  readonly #transport: DeviceRestTransport;
  #apiVersion: string | undefined;

  constructor(options: DeviceRestTransportOptions) {
    this.#transport = new DeviceRestTransport(options);
  }

  get baseUrl(): string {
    return this.#transport.origin;
  }

  /** The REST-API-Version the device last sent (read by `status()`). */
  get apiVersion(): string | undefined {
    return this.#apiVersion;
  }

  close(): void {
    this.#transport.close();
  }

  // ---- device ----------------------------------------------------------------------

  /** Uptime, and the API version from the answer's headers. */
  async status(options?: CallOptions): Promise<DeviceStatus> {
    const response = await this.#send({ method: 'GET', path: '/status' }, options);
    const body = this.#json<{ uptime?: unknown }>(response, 'GET /status');
    if (typeof body.uptime !== 'number') throw badReply('GET /status', 'no numeric uptime');
    return { uptime: body.uptime, apiVersion: response.apiVersion };
  }

  async osVersion(options?: CallOptions): Promise<string> {
    return (await this.#call<{ osversion?: string }>('GET', '/osversion', options)).osversion ?? '';
  }

  abiVersions(options?: CallOptions): Promise<AbiVersionSet> {
    return this.#call('GET', '/abi_versions', options);
  }

  securityState(options?: CallOptions): Promise<SecurityStateInfo> {
    return this.#call('GET', '/device/security_state', options);
  }

  async capabilities(options?: CallOptions): Promise<number[]> {
    return (await this.#call<{ device_capabilities?: number[] }>('GET', '/device/capabilities', options)).device_capabilities ?? [];
  }

  async manufacturingState(options?: CallOptions): Promise<ManufacturingState> {
    return (await this.#call<{ manufacturingState: ManufacturingState }>('GET', '/device/manufacturing_state', options)).manufacturingState;
  }

  async setManufacturingState(state: 'Module1Complete' | 'DeviceComplete', options?: CallOptions): Promise<void> {
    await this.#call('PUT', '/device/manufacturing_state', options, { manufacturingState: state });
  }

  /** Restarts the device; it drops off the link until it is up again. */
  async restart(options?: CallOptions): Promise<void> {
    await this.#call('POST', '/restart', options);
  }

  // ---- images and sideloading ----------------------------------------------------------

  images(options?: CallOptions): Promise<ComponentList> {
    return this.#call('GET', '/images', options);
  }

  /** PUT /update/stage: one raw image package, checked by the device before anything changes. */
  async stageImage(image: Buffer, options: SideloadOptions = {}): Promise<void> {
    const response = await this.#send(
      { method: 'PUT', path: '/update/stage', body: image, contentType: 'application/octet-stream', onProgress: options.onProgress },
      { timeoutMs: options.timeoutMs ?? uploadTimeoutMs(image.length), signal: options.signal },
    );
    this.#json(response, 'PUT /update/stage');
  }

  /** POST /update/install: installs everything staged. */
  installStaged(options: SideloadOptions = {}): Promise<SystemRestart> {
    const body = options.appControlMode ? { appControlMode: options.appControlMode } : undefined;
    return this.#call<SystemRestart>('POST', '/update/install', { timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal }, body);
  }

  /** Stage every image, then install: what `azsphere device sideload deploy` does. */
  async sideload(images: Buffer | readonly Buffer[], options: SideloadOptions = {}): Promise<SystemRestart> {
    const list = Buffer.isBuffer(images) ? [images] : [...images];
    if (list.length === 0) throw new InputError('nothing-to-sideload', 'sideload needs at least one image package');
    const total = list.reduce((sum, image) => sum + image.length, 0);
    let before = 0;
    for (const image of list) {
      const offset = before;
      await this.stageImage(image, { ...options, onProgress: options.onProgress && ((sent) => options.onProgress!(offset + sent, total)) });
      before += image.length;
    }
    const result = await this.installStaged(options);
    return { restartingSystem: result.restartingSystem === true };
  }

  async removeApp(componentId: string, options?: CallOptions): Promise<SystemRestart> {
    const result = await this.#call<Partial<SystemRestart>>('DELETE', componentPath('/app/image', componentId), options);
    return { restartingSystem: result.restartingSystem === true };
  }

  // ---- applications ----------------------------------------------------------------------

  async appStatus(componentId: string, options?: CallOptions): Promise<AppState> {
    const body = await this.#call<{ state?: AppState } | AppState>('GET', componentPath('/app/status', componentId), options);
    // Devices answer {"state": ...}; the spec's schema is the bare value: take either.
    const state = typeof body === 'string' ? body : body.state;
    if (typeof state !== 'string') throw badReply('GET /app/status', 'no state');
    return state;
  }

  setAppState(componentId: string, trigger: AppTrigger, options?: CallOptions): Promise<AppStateChange> {
    return this.#call('PATCH', componentPath('/app/status', componentId), options, { trigger });
  }

  startApp(componentId: string, options?: CallOptions): Promise<AppStateChange> {
    return this.setAppState(componentId, 'start', options);
  }

  startAppForDebugging(componentId: string, options?: CallOptions): Promise<AppStateChange> {
    return this.setAppState(componentId, 'startDebug', options);
  }

  stopApp(componentId: string, options?: CallOptions): Promise<AppStateChange> {
    return this.setAppState(componentId, 'stop', options);
  }

  appQuota(componentId: string, options?: CallOptions): Promise<QuotaInfo> {
    return this.#call('GET', componentPath('/app/quota', componentId), options);
  }

  // ---- certificate store --------------------------------------------------------------------

  async certificates(options?: CallOptions): Promise<string[]> {
    return (await this.#call<{ identifiers?: string[] }>('GET', '/certstore/certs', options)).identifiers ?? [];
  }

  certificate(id: string, options?: CallOptions): Promise<CertificateInfo> {
    return this.#call('GET', namePath('/certstore/certs', id), options);
  }

  async installCertificate(id: string, certificate: CertificateInstall, options?: CallOptions): Promise<void> {
    await this.#call('POST', namePath('/certstore/certs', id), options, certificate);
  }

  async removeCertificate(id: string, options?: CallOptions): Promise<void> {
    await this.#call('DELETE', namePath('/certstore/certs', id), options);
  }

  /** Bytes left in the certificate store (the device sends a string). */
  async certificateSpace(options?: CallOptions): Promise<number> {
    const body = await this.#call<{ AvailableSpace?: string | number }>('GET', '/certstore/space', options);
    const space = Number(body.AvailableSpace);
    if (!Number.isFinite(space)) throw badReply('GET /certstore/space', `AvailableSpace ${JSON.stringify(body.AvailableSpace)}`);
    return space;
  }

  // ---- Wi-Fi ----------------------------------------------------------------------------------

  async wifiNetworks(options?: CallOptions): Promise<WifiNetworkConfig[]> {
    return (await this.#call<{ values?: WifiNetworkConfig[] }>('GET', '/wifi/config/networks', options)).values ?? [];
  }

  addWifiNetwork(network: WifiNetworkRequest, options?: CallOptions): Promise<WifiNetworkConfig> {
    return this.#call('POST', '/wifi/config/networks', options, network);
  }

  wifiNetwork(id: number, options?: CallOptions): Promise<WifiNetworkConfig> {
    return this.#call('GET', namePath('/wifi/config/networks', integer(id)), options);
  }

  changeWifiNetwork(id: number, change: { configState?: WifiNetworkConfig['configState']; psk?: string }, options?: CallOptions): Promise<WifiNetworkConfig> {
    return this.#call('PATCH', namePath('/wifi/config/networks', integer(id)), options, change);
  }

  async removeWifiNetwork(id: number, options?: CallOptions): Promise<void> {
    await this.#call('DELETE', namePath('/wifi/config/networks', integer(id)), options);
  }

  async wifiConnectionFailures(options?: CallOptions): Promise<WifiConnectionFailure[]> {
    return (await this.#call<{ values?: WifiConnectionFailure[] }>('GET', '/wifi/diagnostics/networks', options)).values ?? [];
  }

  wifiConnectionFailure(networkId: number, options?: CallOptions): Promise<WifiConnectionFailure> {
    return this.#call('GET', namePath('/wifi/diagnostics/networks', integer(networkId)), options);
  }

  wifiInterface(options?: CallOptions): Promise<WifiInterfaceState> {
    return this.#call('GET', '/wifi/interface', options);
  }

  async setWifiInterface(change: { reloadConfig?: boolean; enablePowerSavings?: boolean }, options?: CallOptions): Promise<void> {
    await this.#call('PATCH', '/wifi/interface', options, change);
  }

  async wifiScan(options?: CallOptions): Promise<WifiScanResult[]> {
    return (await this.#call<{ values?: WifiScanResult[] }>('GET', '/wifi/scan', { timeoutMs: 30_000, ...options })).values ?? [];
  }

  // ---- networking -------------------------------------------------------------------------------

  netStatus(options?: CallOptions): Promise<NetworkStatus> {
    return this.#call('GET', '/net/status', options);
  }

  async netInterfaces(options?: CallOptions): Promise<NetworkInterface[]> {
    return (await this.#call<{ interfaces?: NetworkInterface[] }>('GET', '/net/interfaces', options)).interfaces ?? [];
  }

  netInterface(name: string, options?: CallOptions): Promise<NetworkInterface> {
    return this.#call('GET', namePath('/net/interfaces', name), options);
  }

  async setNetInterface(name: string, change: { interfaceUp?: boolean; hardwareAddress?: string }, options?: CallOptions): Promise<void> {
    await this.#call('PATCH', namePath('/net/interfaces', name), options, change);
  }

  async firewallRulesets(options?: CallOptions): Promise<FirewallRuleset[]> {
    return (await this.#call<{ rulesets?: FirewallRuleset[] }>('GET', '/net/firewall/rulesets', options)).rulesets ?? [];
  }

  proxy(options?: CallOptions): Promise<NetworkProxy> {
    return this.#call('GET', '/net/proxy', options);
  }

  async setProxy(proxy: NetworkProxy, options?: CallOptions): Promise<void> {
    await this.#call('POST', '/net/proxy', options, proxy);
  }

  async deleteProxy(options?: CallOptions): Promise<void> {
    await this.#call('DELETE', '/net/proxy', options);
  }

  // ---- diagnostics ------------------------------------------------------------------------------

  /** The pending error report, as the device's bytes (the emulator's are UTF-8 JSON). */
  async telemetry(options?: CallOptions): Promise<Buffer> {
    return this.#binary('/telemetry', options);
  }

  async clearTelemetry(options?: CallOptions): Promise<void> {
    await this.#call('DELETE', '/telemetry', options);
  }

  /** The diagnostic log, as the device's bytes. */
  async log(options?: CallOptions): Promise<Buffer> {
    return this.#binary('/log', options);
  }

  memoryStatistics(options?: CallOptions): Promise<MemoryStatistics> {
    return this.#call('GET', '/stats/memory/groups/applications', options);
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  async #call<T>(method: RestMethod, path: string, options?: CallOptions, body?: unknown): Promise<T> {
    const request: RestRequest = { method, path };
    if (body !== undefined) {
      request.body = Buffer.from(JSON.stringify(body), 'utf8');
      request.contentType = 'application/json';
    }
    return this.#json<T>(await this.#send(request, options), `${method} ${path}`);
  }

  async #binary(path: string, options?: CallOptions): Promise<Buffer> {
    const response = await this.#send({ method: 'GET', path, maxResponseBytes: 64 * 1024 * 1024 }, options);
    if (response.status < 200 || response.status >= 300) throw refusal(response, `GET ${path}`);
    return response.body;
  }

  async #send(request: RestRequest, options: CallOptions = {}): Promise<RestResponse> {
    const response = await this.#transport.send({ ...request, timeoutMs: options.timeoutMs ?? request.timeoutMs, signal: options.signal });
    if (response.apiVersion) this.#apiVersion = response.apiVersion;
    return response;
  }

  #json<T>(response: RestResponse, what: string): T {
    if (response.status < 200 || response.status >= 300) throw refusal(response, what);
    if (response.body.length === 0) return {} as T;
    try {
      return JSON.parse(response.body.toString('utf8')) as T;
    } catch {
      throw badReply(what, 'the answer is not JSON');
    }
  }
}

function integer(value: number): number {
  if (!Number.isSafeInteger(value)) throw new InputError('bad-id', `expected an integer ID, got ${value}`);
  return value;
}

function badReply(what: string, problem: string): DeviceRestError {
  return new DeviceRestError('infra-error', 'device-bad-reply', `${what}: unexpected answer from the device (${problem})`);
}

/** A non-2xx answer: the device's refusal when it says `{"error": code}`, else a broken exchange. */
function refusal(response: RestResponse, what: string): DeviceRestError {
  let code: unknown;
  try {
    code = (JSON.parse(response.body.toString('utf8')) as { error?: unknown }).error;
  } catch {
    code = undefined;
  }
  if (typeof code === 'number' && Number.isInteger(code)) return new DeviceRefusedError(code, response.status, what);
  const failureClass = response.status >= 500 ? 'device-fault' : 'infra-error';
  return new DeviceRestError(failureClass, 'device-http-error', `${what}: HTTP ${response.status} without a device error code`, { httpStatus: response.status });
}
