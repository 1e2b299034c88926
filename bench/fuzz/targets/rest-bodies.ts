import { webcrypto } from 'node:crypto';
import { Readable } from 'node:stream';
import * as x509 from '@peculiar/x509';
import type { Request, Response } from 'express';
import type { EmulatedBoard } from '../../../src/emulator/emulated-board.js';
import { DeviceRefusal } from '../../../src/emulator/device-error.js';
import { DeviceSettingsStore, type WifiNetworkRecord } from '../../../src/emulator/rest/device-settings.js';
import { REST_ROUTES } from '../../../src/emulator/rest/rest-app.js';
import type { RestContext, RestRoute } from '../../../src/emulator/rest/rest-route.js';
import { StagingArea } from '../../../src/emulator/rest/staging-area.js';
import { FormatError } from '../../../src/image/format-error.js';
import { fixedEd25519KeyPair } from '../fixed-keys.js';
import { mutateText, wordsOf } from '../mutate.js';
import type { Random } from '../random.js';
import { readRepoFile } from '../seed-files.js';
import { InvariantViolation, type FuzzTarget } from '../target.js';

/**
 * Request bodies of the emulated device's REST API: the real route handlers of
 * every operation that takes a JSON body (Wi-Fi networks and interface, network
 * interfaces and proxy, certificate store, manufacturing state, app state,
 * install), called in-process rather than over HTTPS: a Readable carries the body
 * through the project's readJsonBody (size limit, media type, UTF-8, JSON, schema)
 * into the handler's own checks. The board under them is a stand-in holding just
 * the state these handlers touch (settings, manufacturing state, one app), fresh
 * for every input; the settings store and staging area are the real ones.
 *
 * An input is one request:
 *   METHOD \t route path \t path parameters (JSON) \t Content-Type \t length|chunked \n body
 * A refusal is a DeviceRefusal below 500 or a FormatError (what rest-app.ts
 * answers 4xx); anything else would be a 500, and so is a crash. An answer must
 * be JSON-serializable.
 */

const APP_ID = '0d5e7f1a-2b3c-4d4e-8f5a-6b7c8d9e0f10';
const DEVICE_ID = 'ab'.repeat(64);

interface RequestSeed {
  method: string;
  path: string;
  params: Record<string, string>;
  bodies: string[];
}

async function clientCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const key = fixedEd25519KeyPair('certstore client');
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey('pkcs8', key.pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const publicKey = await subtle.importKey('spki', key.publicKey.export({ type: 'spki', format: 'der' }), { name: 'Ed25519' }, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=sphere-rig fuzz client',
      notBefore: new Date('2024-01-01T00:00:00Z'),
      notAfter: new Date('2034-01-01T00:00:00Z'),
      signingAlgorithm: { name: 'Ed25519' },
      keys: { privateKey, publicKey },
    },
    webcrypto as unknown as Crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

async function requestSeeds(): Promise<RequestSeed[]> {
  const rootPem = readRepoFile('fixtures/azure-sphere/azure-sphere-sdk-test.pem').toString('utf8');
  const client = await clientCertificate();
  const json = (value: unknown) => JSON.stringify(value);
  return [
    {
      method: 'post',
      path: '/wifi/config/networks',
      params: {},
      bodies: [
        json({ ssid: 'sphere-rig-lab', securityState: 'psk', psk: 'sphere-rig-lab-psk', configName: 'lab', targetedScan: true, configState: 'enabled' }),
        json({ ssid: 'open-net', securityState: 'open' }),
        json({ ssid: 'corp', securityState: 'eaptls', clientIdentity: 'user@corp', clientCertStoreIdentifier: 'client', rootCaCertStoreIdentifier: 'rootca', configState: 'disabled' }),
      ],
    },
    { method: 'patch', path: '/wifi/config/networks/:wifiNetworkId', params: { wifiNetworkId: '0' }, bodies: [json({ configState: 'disabled', psk: 'another-passphrase' }), json({ configState: 'temp-disabled' })] },
    { method: 'patch', path: '/wifi/config/networks/:wifiNetworkId', params: { wifiNetworkId: '1' }, bodies: [json({ psk: 'not-for-eaptls' })] },
    { method: 'patch', path: '/wifi/interface', params: {}, bodies: [json({ reloadConfig: true, enablePowerSavings: true }), json({})] },
    { method: 'patch', path: '/net/interfaces/:networkInterfaceName', params: { networkInterfaceName: 'wlan0' }, bodies: [json({ interfaceUp: false, hardwareAddress: '02:11:22:33:44:55' }), json({ interfaceUp: true })] },
    { method: 'patch', path: '/net/interfaces/:networkInterfaceName', params: { networkInterfaceName: 'azspheresvc' }, bodies: [json({ interfaceUp: false })] },
    {
      method: 'post',
      path: '/net/proxy',
      params: {},
      bodies: [
        json({ enabled: true, address: 'proxy.example.com', port: 8080, noProxyAddresses: ['10.0.0.1', 'intranet'], authenticationType: 'basic', username: 'user', password: 'secret' }),
        json({ enabled: false, address: '', port: 0, authenticationType: 'anonymous' }),
      ],
    },
    { method: 'post', path: '/certstore/certs/:identifier', params: { identifier: 'rootca2' }, bodies: [json({ certType: 'RootCA', publicCert: rootPem })] },
    { method: 'post', path: '/certstore/certs/:identifier', params: { identifier: 'client' }, bodies: [json({ certType: 'Client', publicCert: client.certPem, privateKey: client.keyPem })] },
    { method: 'put', path: '/device/manufacturing_state', params: {}, bodies: [json({ manufacturingState: 'Module1Complete' }), json({ manufacturingState: 'DeviceComplete' })] },
    { method: 'patch', path: '/app/status/:componentId', params: { componentId: APP_ID }, bodies: [json({ trigger: 'start' }), json({ trigger: 'stop' }), json({ trigger: 'startDebug' })] },
    { method: 'post', path: '/update/install', params: {}, bodies: [json({ appControlMode: 'Manual' }), json({ appControlMode: 'Auto' }), ''] },
  ];
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;', 'text/plain', 'application/jsonx', ''];

const JSON_TOKENS = [
  'null', 'true', 'false', '0', '-0', '1e999', '-1', '65536', '4294967296', '1.5', '""', '"\\u0000"', '"\\ud800"', '"\\uDFFF\\uD800"', '"é"',
  '[]', '{}', '[[]]', '{"__proto__":{}}', '"__proto__"', '"constructor"', '"toString"', ',', ':', '{', '}', '[', ']', '"', '\\', '\\"',
  '"-----BEGIN CERTIFICATE-----\\n"', '"-----END CERTIFICATE-----"', '"ENCRYPTED"', '"-----BEGIN ENCRYPTED PRIVATE KEY-----\\nAAAA\\n-----END ENCRYPTED PRIVATE KEY-----\\n"',
  `"${'a'.repeat(70)}"`, `"${'x'.repeat(9000)}"`, '"00:00:00:00:00:00"', '"01:02:03:04:05:06"', '"ff:ff:ff:ff:ff:ff"',
];

function encodeRequest(seed: RequestSeed, contentType: string, framing: string, body: Buffer): Buffer {
  const head = [seed.method, seed.path, JSON.stringify(seed.params), contentType, framing].join('\t');
  return Buffer.concat([Buffer.from(`${head}\n`, 'utf8'), body]);
}

function generate(rng: Random, seeds: readonly RequestSeed[], allBodies: readonly string[], dictionary: readonly string[]): Buffer {
  const seed = rng.pick(seeds);
  const contentType = rng.chance(0.9) ? CONTENT_TYPES[0]! : rng.pick(CONTENT_TYPES);
  const framing = rng.chance(0.9) ? 'length' : 'chunked';
  const original = rng.pick(seed.bodies);
  const body = rng.chance(0.8) ? Buffer.from(mutateText(rng, original, allBodies, { dictionary }), 'utf8') : Buffer.from(original, 'utf8');
  // The byte-level mutations of mutateText cover invalid UTF-8; sometimes also oversize bodies.
  const sized = rng.chance(0.002) ? Buffer.concat([body, Buffer.alloc(64 * 1024, 0x20)]) : body;
  return encodeRequest(seed, contentType, framing, sized);
}

/** The board state the JSON-body handlers read and write; a fresh copy per request. */
function standInBoard(): EmulatedBoard {
  const networks: WifiNetworkRecord[] = [
    { id: 0, ssid: 'sphere-rig-lab', securityState: 'psk', configState: 'enabled', targetedScan: false, psk: 'sphere-rig-lab-psk', configName: 'lab' },
    { id: 1, ssid: 'corp', securityState: 'eaptls', configState: 'enabled', targetedScan: false, clientCertStoreIdentifier: 'client' },
  ];
  let appState: 'running' | 'stopped' | 'debugging' = 'stopped';
  const board = {
    name: 'fuzz',
    deviceId: DEVICE_ID,
    otaInProgress: false,
    chip: { manufacturingState: 'Blank', settings: { wifi: { nextId: 2, powerSavings: false, networks } }, fuses: {} },
    saveChip: () => undefined,
    capabilities: () => [11],
    capabilitiesFrom: () => [],
    apps: () => [{ componentId: APP_ID, state: appState }],
    appState: (componentId: string) => (componentId === APP_ID ? appState : 'notPresent'),
    startApp: (_componentId: string, debug: boolean) => {
      appState = debug ? 'debugging' : 'running';
    },
    startAppWithCapabilities: () => {
      appState = 'running';
    },
    stopApp: () => {
      appState = 'stopped';
    },
    storage: { readRecord: () => undefined, readAppSlot: () => undefined },
  };
  return board as unknown as EmulatedBoard;
}

function requestFor(body: Buffer, headers: Record<string, string>, params: Record<string, string>, method: string, path: string): Request {
  const stream = new Readable({ read: () => undefined });
  if (body.length) stream.push(body);
  stream.push(null);
  return Object.assign(stream, { headers, params, method: method.toUpperCase(), url: path, path }) as unknown as Request;
}

function responseRecorder(): Response {
  const res = {
    statusCode: 200,
    status(code: number) {
      res.statusCode = code;
      return res;
    },
    json(value: unknown) {
      if (JSON.stringify(value) === undefined) throw new InvariantViolation('a handler answered a value that is not JSON');
      return res;
    },
    once: () => res,
  };
  return res as unknown as Response;
}

export function isRestRefusal(error: unknown): boolean {
  return (error instanceof DeviceRefusal && error.httpStatus >= 400 && error.httpStatus < 500) || (error instanceof FormatError && error.code.length > 0);
}

export const restBodiesTarget: FuzzTarget = {
  name: 'rest-bodies',
  async prepare() {
    const seeds = await requestSeeds();
    const routes = new Map<string, RestRoute>(REST_ROUTES.map((route) => [`${route.method} ${route.path}`, route]));
    for (const seed of seeds) if (!routes.has(`${seed.method} ${seed.path}`)) throw new Error(`rest-bodies: no route ${seed.method} ${seed.path}`);
    const allBodies = seeds.flatMap((s) => s.bodies);
    const dictionary = [...JSON_TOKENS, ...wordsOf(allBodies.filter((b) => !b.includes('-----BEGIN'))).map((w) => JSON.stringify(w))];
    return {
      seedCount: allBodies.length,
      generate: (rng) => generate(rng, seeds, allBodies, dictionary),
      run: async (input) => {
        const newline = input.indexOf(0x0a);
        const [method = '', path = '', params = '{}', contentType = '', framing = ''] = input.subarray(0, newline).toString('utf8').split('\t');
        const route = routes.get(`${method} ${path}`);
        if (!route) throw new Error(`not a request of this target: no route ${method} ${path}`);
        const body = input.subarray(newline + 1);
        const headers: Record<string, string> = framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) };
        if (contentType) headers['content-type'] = contentType;
        const board = standInBoard();
        const context: RestContext = {
          board,
          settings: new DeviceSettingsStore(board),
          staging: new StagingArea(),
          history: undefined as unknown as RestContext['history'],
          memory: undefined as unknown as RestContext['memory'],
          traffic: { requests: 0, bytes: 0 },
        };
        const req = requestFor(body, headers, JSON.parse(params) as Record<string, string>, method, path);
        await route.handle(context, { req, res: responseRecorder(), granted: [11] });
      },
      isRejection: isRestRefusal,
    };
  },
};
