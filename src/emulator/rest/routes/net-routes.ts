import type { Request } from 'express';
import { DeviceRefusal } from '../../device-error.js';
import { SERVICE_INTERFACE, WIFI_INTERFACE, type DeviceSettings, type ProxySettings } from '../device-settings.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { refuse } from '../rest-error-codes.js';
import type { RestContext, RestRoute } from '../rest-route.js';
import { currentLink, EMULATED_WIFI_ADDRESS } from '../wifi-radio.js';

/**
 * Networking: status (open: device authentication readiness, time sync, proxy),
 * interfaces (the service link and wlan0), firewall rulesets and the proxy.
 *
 * The emulated service link is loopback, so azspheresvc reports 127.0.0.1.
 * Time sync completes once the emulated Wi-Fi has joined a network. The
 * firewall is a model of a device's: INPUT accepts the REST API on the service
 * link and established traffic, OUTPUT accepts established traffic and, per
 * running app (by its uid, 1000 up), the connections its manifest allows;
 * FORWARD drops. The REST rule counts the requests this board has served.
 */
const Code = { InvalidHardwareAddress: 31457286, InvalidInterface: 31457294, NotPermitted: 31457295 } as const;
const FIRST_APP_UID = 1000;

const interfaceBody = requestSchema<{ hardwareAddress?: string; interfaceUp?: boolean }>({
  type: 'object',
  properties: { hardwareAddress: { type: 'string' }, interfaceUp: { type: 'boolean' } },
});

const networkAddress = { type: 'string', maxLength: 255 } as const;
const credential = { type: 'string', minLength: 1, maxLength: 63 } as const;
const proxyBody = requestSchema<ProxySettings>({
  type: 'object',
  required: ['enabled', 'address', 'port', 'authenticationType'],
  properties: {
    enabled: { type: 'boolean' },
    address: networkAddress,
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    noProxyAddresses: { type: 'array', maxItems: 64, items: networkAddress },
    authenticationType: { type: 'string', enum: ['anonymous', 'basic'] },
    username: credential,
    password: credential,
  },
});

export const DISABLED_PROXY: Readonly<ProxySettings> = Object.freeze({ enabled: false, address: '', port: 0, noProxyAddresses: [], authenticationType: 'anonymous' });

function interfaceView(name: string, settings: DeviceSettings): Record<string, unknown> {
  if (name === SERVICE_INTERFACE) {
    return { interfaceName: name, interfaceUp: true, connectedToNetwork: true, ipAssignment: 'static', ipAcquired: true, ipAddresses: ['127.0.0.1'], connectedToInternet: false };
  }
  const wifi = settings.netInterfaces[WIFI_INTERFACE]!;
  const link = currentLink(settings);
  return {
    interfaceName: name,
    interfaceUp: wifi.interfaceUp,
    connectedToNetwork: link !== undefined,
    ipAssignment: 'dynamic',
    ipAcquired: link !== undefined,
    ipAddresses: link ? [EMULATED_WIFI_ADDRESS] : [],
    // The emulated network reaches the rig's own services, which stand for the internet here.
    connectedToInternet: link !== undefined,
    ...(wifi.hardwareAddress ? { hardwareAddress: wifi.hardwareAddress } : {}),
  };
}

function interfaceParam(req: Request): string {
  const name = String(req.params.networkInterfaceName ?? '');
  if (name !== SERVICE_INTERFACE && name !== WIFI_INTERFACE) throw new DeviceRefusal(Code.InvalidInterface, 404, `no interface ${JSON.stringify(name.slice(0, 64))}`);
  return name;
}

/** A unicast MAC other than all zeros, as xx:xx:xx:xx:xx:xx. */
function checkHardwareAddress(address: string): string {
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(address)) throw new DeviceRefusal(Code.InvalidHardwareAddress, 400, `${JSON.stringify(address)} is not xx:xx:xx:xx:xx:xx`);
  const first = parseInt(address.slice(0, 2), 16);
  if (first & 1 || /^(00:){5}00$/.test(address)) throw new DeviceRefusal(Code.InvalidHardwareAddress, 400, `${address} is not a unicast address`);
  return address.toLowerCase();
}

function firewallRulesets({ board, traffic }: RestContext): Record<string, unknown> {
  const established = { action: 'accept', state: 'established', protocol: 'any', packets: 0, bytes: 0 };
  const apps = board.apps().filter((a) => a.state === 'running' || a.state === 'debugging').sort((a, b) => a.componentId.localeCompare(b.componentId));
  return {
    rulesets: [
      { hook: 'PREROUTING', isValid: true, rules: [] },
      {
        hook: 'INPUT',
        isValid: true,
        rules: [
          { action: 'accept', interfaceInName: SERVICE_INTERFACE, protocol: 'tcp', destinationPortRange: { min: 443, max: 443 }, packets: traffic.requests, bytes: traffic.bytes },
          established,
          { action: 'drop', protocol: 'any', packets: 0, bytes: 0 },
        ],
      },
      { hook: 'FORWARD', isValid: true, rules: [{ action: 'drop', protocol: 'any', packets: 0, bytes: 0 }] },
      {
        hook: 'OUTPUT',
        isValid: true,
        rules: [
          established,
          ...apps.map((_, index) => ({ action: 'accept', uid: FIRST_APP_UID + index, protocol: 'tcp', interfaceOutName: WIFI_INTERFACE, packets: 0, bytes: 0 })),
          { action: 'drop', protocol: 'any', packets: 0, bytes: 0 },
        ],
      },
      { hook: 'POSTROUTING', isValid: true, rules: [] },
    ],
  };
}

export const netRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/net/status',
    access: 'open',
    handle: ({ board, settings }, { res }) => {
      const s = settings.read();
      res.json({
        deviceAuthenticationIsReady: board.deviceAuth.ready,
        networkTimeSync: currentLink(s) ? 'complete' : 'incomplete',
        proxy: s.proxy?.enabled ? 'ready' : 'disabled',
      });
    },
  },
  {
    method: 'get',
    path: '/net/interfaces',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      const s = settings.read();
      res.json({ interfaces: [SERVICE_INTERFACE, WIFI_INTERFACE].map((name) => interfaceView(name, s)) });
    },
  },
  {
    method: 'get',
    path: '/net/interfaces/:networkInterfaceName',
    access: 'servicing',
    handle: ({ settings }, { req, res }) => res.json(interfaceView(interfaceParam(req), settings.read())),
  },
  {
    method: 'patch',
    path: '/net/interfaces/:networkInterfaceName',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const name = interfaceParam(req);
      const change = (await readJsonBody(req, interfaceBody, { required: true }))!;
      if (name === SERVICE_INTERFACE) throw new DeviceRefusal(Code.NotPermitted, 400, 'the service interface cannot be changed over itself');
      const hardwareAddress = change.hardwareAddress === undefined ? undefined : checkHardwareAddress(change.hardwareAddress);
      settings.update((s) => {
        const wifi = s.netInterfaces[WIFI_INTERFACE]!;
        if (change.interfaceUp !== undefined) wifi.interfaceUp = change.interfaceUp;
        if (hardwareAddress !== undefined) wifi.hardwareAddress = hardwareAddress;
      });
      res.json({});
    },
  },
  {
    method: 'get',
    path: '/net/firewall/rulesets',
    access: 'servicing',
    handle: (context, { res }) => res.json(firewallRulesets(context)),
  },
  {
    method: 'get',
    path: '/net/proxy',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      // The password is never read back (NetworkProxyBasicNoPassword).
      const { password: _password, ...shown } = settings.read().proxy ?? DISABLED_PROXY;
      res.json(shown);
    },
  },
  {
    method: 'post',
    path: '/net/proxy',
    access: 'servicing',
    handle: async ({ settings }, { req, res }) => {
      const proxy = (await readJsonBody(req, proxyBody, { required: true }))!;
      const basic = proxy.authenticationType === 'basic';
      if (basic && (proxy.username === undefined || proxy.password === undefined)) throw refuse.invalid('basic authentication needs username and password');
      if (!basic && (proxy.username !== undefined || proxy.password !== undefined)) throw refuse.invalid('anonymous authentication takes no username or password');
      if (proxy.enabled && proxy.address.length === 0) throw refuse.invalid('an enabled proxy needs an address');
      settings.update((s) => {
        // The known fields only: anything else in the body is not the device's to keep (or to echo back).
        const { enabled, address, port, noProxyAddresses = [], authenticationType, username, password } = proxy;
        s.proxy = { enabled, address, port, noProxyAddresses, authenticationType, ...(basic ? { username, password } : {}) };
      });
      res.json({});
    },
  },
  {
    method: 'delete',
    path: '/net/proxy',
    access: 'servicing',
    handle: ({ settings }, { res }) => {
      settings.update((s) => (s.proxy = null));
      res.json({});
    },
  },
];
