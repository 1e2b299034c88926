import { expect } from 'chai';
import type { OutgoingHttpHeaders } from 'node:http';
import { createCa, issueCertificate } from '../../../src/pki/certificate-authority.js';
import { exportPrivateKeyPem, generateSigningKeyPair } from '../../../src/pki/signing-key.js';
import { decodeDeviceLog } from '../../../src/firmware/device-log/device-log-decoder.js';
import { DeviceApiSpec, SPEC_ERRATA } from '../../helpers/device-api-spec.js';
import { rawHttps, jsonOf, type RawExchange } from '../../helpers/raw-https.js';
import { RestBoard } from '../../helpers/rest-board.js';

const APP_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

/** Every operation of device_rest_api.yaml (all 42): each is called below and its answers validated. */
const OPERATIONS = [
  'GET /status', 'GET /osversion', 'GET /abi_versions', 'GET /device/security_state', 'GET /device/capabilities',
  'GET /device/manufacturing_state', 'PUT /device/manufacturing_state', 'POST /restart',
  'GET /images', 'PUT /update/stage', 'POST /update/install', 'DELETE /app/image/{componentId}',
  'GET /app/status/{componentId}', 'PATCH /app/status/{componentId}', 'GET /app/quota/{componentId}',
  'GET /certstore/certs', 'GET /certstore/certs/{identifier}', 'POST /certstore/certs/{identifier}',
  'DELETE /certstore/certs/{identifier}', 'GET /certstore/space',
  'GET /wifi/config/networks', 'POST /wifi/config/networks', 'GET /wifi/config/networks/{wifiNetworkId}',
  'PATCH /wifi/config/networks/{wifiNetworkId}', 'DELETE /wifi/config/networks/{wifiNetworkId}',
  'GET /wifi/diagnostics/networks', 'GET /wifi/diagnostics/networks/{networkId}', 'GET /wifi/interface',
  'PATCH /wifi/interface', 'GET /wifi/scan',
  'GET /net/status', 'GET /net/interfaces', 'GET /net/interfaces/{networkInterfaceName}',
  'PATCH /net/interfaces/{networkInterfaceName}', 'GET /net/firewall/rulesets', 'GET /net/proxy', 'POST /net/proxy',
  'DELETE /net/proxy',
  'GET /stats/memory/groups/applications', 'GET /telemetry', 'DELETE /telemetry', 'GET /log',
];

/**
 * Every operation of device_rest_api.yaml, called on an emulated board, each
 * answer (successes and refusals) checked against the spec's schemas by
 * openapi-backend's validators. The test fails if any operation of the spec
 * was not exercised.
 */
describe('device REST API: every answer conforms to device_rest_api.yaml', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let spec: DeviceApiSpec;
  let developer: string;
  const covered = new Map<string, Set<number>>();
  const problems: string[] = [];

  before(async () => {
    [rest, spec] = await Promise.all([RestBoard.start(), DeviceApiSpec.load()]);
    developer = rest.capability([11]).toString('base64');
  });

  after(async () => {
    await rest?.stop();
  });

  /** One request; its answer is checked against the spec and recorded. */
  async function call(method: string, path: string, options: { body?: unknown; raw?: Buffer; contentType?: string; headers?: OutgoingHttpHeaders; open?: boolean } = {}): Promise<RawExchange> {
    const headers: OutgoingHttpHeaders = { ...(options.open ? {} : { 'AZSPHERE-CAPABILITIES': developer }), ...options.headers };
    let body: Buffer | undefined = options.raw;
    if (options.body !== undefined) {
      body = Buffer.from(JSON.stringify(options.body));
      headers['Content-Type'] = 'application/json';
    }
    if (options.contentType) headers['Content-Type'] = options.contentType;
    const exchange = await rawHttps({ port: rest.port, ca: rest.ca, method, path, headers, body });
    expect(exchange.headers['rest-api-version'], `${method} ${path}: REST-API-Version`).to.equal('4.5.0');
    const found = problems.length;
    problems.push(...spec.check({ method, path, status: exchange.status, contentType: String(exchange.headers['content-type'] ?? ''), body: exchange.body }));
    expect(problems.slice(found), `${method} ${path}`).to.deep.equal([]);
    const operation = spec.operationFor(method, path);
    const key = `${method} ${operation?.path ?? path}`;
    covered.set(key, (covered.get(key) ?? new Set()).add(exchange.status));
    return exchange;
  }

  it('device state: status, versions, security and manufacturing state, capabilities, network status', async () => {
    const status = await call('GET', '/status', { open: true });
    expect(jsonOf(status)).to.have.property('uptime').that.is.a('number');
    expect(jsonOf(await call('GET', '/osversion', { open: true }))).to.deep.equal({ osversion: '22.11' });
    expect(jsonOf(await call('GET', '/abi_versions', { open: true }))).to.include({ ApplicationRuntime: 5 });
    const security = jsonOf(await call('GET', '/device/security_state', { open: true })) as { deviceIdentifier: string };
    expect(security.deviceIdentifier).to.equal(rest.deviceId.toLowerCase());
    expect(jsonOf(await call('GET', '/device/capabilities', { open: true }))).to.deep.equal({ device_capabilities: [] });
    expect(jsonOf(await call('GET', '/device/manufacturing_state', { open: true }))).to.deep.equal({ manufacturingState: 'DeviceComplete' });
    expect((await call('PUT', '/device/manufacturing_state', { body: { manufacturingState: 'DeviceComplete' } })).status).to.equal(200);
    expect(jsonOf(await call('PUT', '/device/manufacturing_state', { body: { manufacturingState: 'Module1Complete' } }))).to.deep.equal({ error: 22 });
    expect(jsonOf(await call('GET', '/net/status', { open: true }))).to.deep.equal({ deviceAuthenticationIsReady: false, networkTimeSync: 'incomplete', proxy: 'disabled' });
  });

  it('images and apps: stage, install, state, quota, remove', async () => {
    expect(jsonOf(await call('GET', '/images', { open: true }))).to.deep.equal({ error: 13 });
    const before = jsonOf(await call('GET', '/images')) as { components: Array<{ uid: string }> };
    expect(before.components.length).to.be.greaterThan(9);
    const app = rest.keys.app({ name: 'Conformance', componentId: APP_ID });
    expect((await call('PUT', '/update/stage', { raw: app, contentType: 'application/octet-stream' })).status).to.equal(200);
    expect((jsonOf(await call('GET', '/images')) as { has_staged_updates: boolean }).has_staged_updates).to.equal(true);
    expect(jsonOf(await call('PUT', '/update/stage', { raw: Buffer.from('not an image'), contentType: 'application/octet-stream' }))).to.deep.equal({ error: 7340050 });
    expect(jsonOf(await call('POST', '/update/install', { body: {} }))).to.deep.equal({ restartingSystem: false });
    expect(jsonOf(await call('POST', '/update/install'))).to.deep.equal({ error: 7340050 });
    expect(jsonOf(await call('GET', `/app/status/${APP_ID}`))).to.deep.equal({ state: 'running' });
    expect(jsonOf(await call('GET', '/app/status/00000000-0000-4000-8000-000000000000'))).to.deep.equal({ state: 'notPresent' });
    expect(jsonOf(await call('PATCH', `/app/status/${APP_ID}`, { body: { trigger: 'stop' } }))).to.deep.equal({ state: 'stopped' });
    expect((await call('PATCH', `/app/status/${APP_ID}`, { body: { trigger: 'stop' } })).status).to.equal(409);
    expect(jsonOf(await call('PATCH', `/app/status/${APP_ID}`, { body: { trigger: 'startDebug' } }))).to.deep.equal({ state: 'debugging' });
    expect((await call('PATCH', `/app/status/${APP_ID}`, { body: { trigger: 'jump' } })).status).to.equal(400);
    expect((await call('PATCH', `/app/status/${APP_ID}`, { raw: Buffer.from('trigger=start'), contentType: 'text/plain' })).status).to.equal(415);
    expect(jsonOf(await call('GET', `/app/quota/${APP_ID}`))).to.deep.equal({ UsageKB: 0, LimitKB: 0 });
    expect((await call('GET', '/app/quota/00000000-0000-4000-8000-000000000000')).status).to.equal(404);
    expect(jsonOf(await call('DELETE', `/app/image/${APP_ID}`))).to.deep.equal({ restartingSystem: false });
    expect(jsonOf(await call('DELETE', `/app/image/${APP_ID}`))).to.deep.equal({ error: 14680076 });
    expect((await call('DELETE', '/app/image/not-a-guid')).status).to.equal(400);
  });

  it('certificate store: add a root CA and a client certificate, list, show, space, remove', async () => {
    const ca = await createCa({ subject: 'CN=Lab Root CA, O=sphere-rig tests' });
    const clientKey = generateSigningKeyPair();
    const client = await issueCertificate({ issuer: ca, publicKey: clientKey.publicKey, subject: 'CN=lab-client', extendedKeyUsages: ['clientAuth'] });
    const space = Number((jsonOf(await call('GET', '/certstore/space')) as { AvailableSpace: string }).AvailableSpace);
    expect((await call('POST', '/certstore/certs/lab-root', { body: { certType: 'RootCA', publicCert: ca.cert.toPem() } })).status).to.equal(200);
    const install = { certType: 'Client', publicCert: client.toPem(), privateKey: exportPrivateKeyPem(clientKey.privateKey) };
    expect((await call('POST', '/certstore/certs/lab-client', { body: install })).status).to.equal(200);
    expect(jsonOf(await call('POST', '/certstore/certs/bad*id', { body: install }))).to.deep.equal({ error: 38797314 });
    expect(jsonOf(await call('POST', '/certstore/certs/x', { body: { ...install, privateKey: exportPrivateKeyPem(generateSigningKeyPair().privateKey) } }))).to.deep.equal({ error: 38797332 });
    expect(jsonOf(await call('GET', '/certstore/certs'))).to.deep.equal({ identifiers: ['lab-root', 'lab-client'] });
    expect(jsonOf(await call('GET', '/certstore/certs/lab-root'))).to.include({ id: 'lab-root', subjectName: 'CN=Lab Root CA, O=sphere-rig tests' });
    expect(Number((jsonOf(await call('GET', '/certstore/space')) as { AvailableSpace: string }).AvailableSpace)).to.be.lessThan(space);
    expect((await call('DELETE', '/certstore/certs/lab-root')).status).to.equal(200);
    expect(jsonOf(await call('GET', '/certstore/certs/lab-root'))).to.deep.equal({ error: 38797319 });
    expect(jsonOf(await call('DELETE', '/certstore/certs/lab-root'))).to.deep.equal({ error: 38797319 });
  });

  it('Wi-Fi: networks, connection, failures, interface, scan', async () => {
    const added = jsonOf(await call('POST', '/wifi/config/networks', { body: { ssid: 'sphere-rig-lab', securityState: 'psk', psk: 'sphere-rig-lab-psk', configName: 'lab' } })) as { id: number };
    expect(added).to.include({ ssid: 'sphere-rig-lab', connectionState: 'connected', configState: 'enabled' });
    const wrong = jsonOf(await call('POST', '/wifi/config/networks', { body: { ssid: 'sphere-rig-open', securityState: 'psk', psk: 'not-the-key' } })) as { id: number };
    const eap = jsonOf(await call('POST', '/wifi/config/networks', { body: { ssid: 'corp', securityState: 'eaptls', clientCertStoreIdentifier: 'lab-client', clientIdentity: 'lab@example.org' } })) as { id: number };
    expect(jsonOf(await call('POST', '/wifi/config/networks', { body: { ssid: 'short', securityState: 'psk', psk: 'short' } }))).to.deep.equal({ error: 13631513 });
    expect(jsonOf(await call('POST', '/wifi/config/networks', { body: { ssid: 'sphere-rig-lab', securityState: 'psk', psk: 'sphere-rig-lab-psk' } }))).to.deep.equal({ error: 13631490 });
    expect((jsonOf(await call('GET', '/wifi/config/networks')) as { values: unknown[] }).values).to.have.length(3);
    expect(jsonOf(await call('GET', `/wifi/config/networks/${eap.id}`))).to.include({ securityState: 'eaptls', connectionState: 'disconnected' });
    expect(jsonOf(await call('PATCH', `/wifi/config/networks/${wrong.id}`, { body: { configState: 'disabled' } }))).to.include({ configState: 'disabled' });
    expect(jsonOf(await call('PATCH', `/wifi/config/networks/${wrong.id}`, { body: { configState: 'enabled' } }))).to.include({ configState: 'enabled' });
    const failures = jsonOf(await call('GET', '/wifi/diagnostics/networks')) as { values: Array<{ networkId: number; error: string }> };
    expect(failures.values.map((f) => [f.networkId, f.error])).to.deep.equal([
      [wrong.id, 'SecurityTypeMismatch'],
      [eap.id, 'NetworkNotFound'],
    ]);
    expect(jsonOf(await call('GET', `/wifi/diagnostics/networks/${wrong.id}`))).to.include({ error: 'SecurityTypeMismatch' });
    expect(jsonOf(await call('GET', `/wifi/diagnostics/networks/${added.id}`))).to.deep.equal({ error: 13631491 });
    expect(jsonOf(await call('GET', '/wifi/interface'))).to.include({ ssid: 'sphere-rig-lab', connectionState: 'connected', wpa_state: 'COMPLETED' });
    expect((await call('PATCH', '/wifi/interface', { body: { enablePowerSavings: true, reloadConfig: true } })).status).to.equal(200);
    expect(jsonOf(await call('GET', '/wifi/interface'))).to.include({ powerSavingsState: 'enabled' });
    expect((jsonOf(await call('GET', '/wifi/scan')) as { values: Array<{ ssid: string }> }).values.map((v) => v.ssid)).to.deep.equal(['sphere-rig-lab', 'sphere-rig-open']);
    expect(jsonOf(await call('GET', '/net/status', { open: true }))).to.include({ networkTimeSync: 'complete' });
    expect((await call('DELETE', `/wifi/config/networks/${wrong.id}`)).status).to.equal(200);
    expect(jsonOf(await call('GET', `/wifi/config/networks/${wrong.id}`))).to.deep.equal({ error: 13631499 });
    expect((await call('GET', '/wifi/config/networks/abc')).status).to.equal(400);
  });

  it('networking: interfaces, firewall, proxy', async () => {
    const interfaces = jsonOf(await call('GET', '/net/interfaces')) as { interfaces: Array<{ interfaceName: string }> };
    expect(interfaces.interfaces.map((i) => i.interfaceName)).to.deep.equal(['azspheresvc', 'wlan0']);
    expect(jsonOf(await call('GET', '/net/interfaces/wlan0'))).to.include({ interfaceUp: true, ipAcquired: true });
    expect((await call('PATCH', '/net/interfaces/wlan0', { body: { interfaceUp: false, hardwareAddress: '02:11:22:33:44:55' } })).status).to.equal(200);
    expect(jsonOf(await call('GET', '/net/interfaces/wlan0'))).to.include({ interfaceUp: false, hardwareAddress: '02:11:22:33:44:55', connectedToNetwork: false });
    expect(jsonOf(await call('GET', '/wifi/scan'))).to.deep.equal({ error: 13631506 });
    expect(jsonOf(await call('PATCH', '/net/interfaces/wlan0', { body: { hardwareAddress: '01:00:5e:00:00:01' } }))).to.deep.equal({ error: 31457286 });
    expect(jsonOf(await call('PATCH', '/net/interfaces/azspheresvc', { body: { interfaceUp: false } }))).to.deep.equal({ error: 31457295 });
    expect(jsonOf(await call('GET', '/net/interfaces/eth9'))).to.deep.equal({ error: 31457294 });
    expect((await call('PATCH', '/net/interfaces/wlan0', { body: { interfaceUp: true } })).status).to.equal(200);
    const rulesets = jsonOf(await call('GET', '/net/firewall/rulesets')) as { rulesets: Array<{ hook: string }> };
    expect(rulesets.rulesets.map((r) => r.hook)).to.deep.equal(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
    expect(jsonOf(await call('GET', '/net/proxy'))).to.include({ enabled: false });
    const proxy = { enabled: true, address: 'proxy.lab.example', port: 3128, authenticationType: 'basic', username: 'rig', password: 'secret', noProxyAddresses: ['10.0.0.1'] };
    expect((await call('POST', '/net/proxy', { body: { ...proxy, notAField: 'x'.repeat(1000) } })).status).to.equal(200);
    const shown = jsonOf(await call('GET', '/net/proxy')) as Record<string, unknown>;
    expect(shown).to.include({ address: 'proxy.lab.example', username: 'rig' });
    expect(shown).not.to.have.property('password');
    expect(shown, 'unknown fields are not kept').not.to.have.property('notAField');
    expect(jsonOf(await call('GET', '/net/status', { open: true }))).to.include({ proxy: 'ready' });
    expect((await call('POST', '/net/proxy', { body: { ...proxy, authenticationType: 'anonymous' } })).status).to.equal(400);
    expect((await call('DELETE', '/net/proxy')).status).to.equal(200);
  });

  it('diagnostics: memory statistics (AppDevelopment only), error report, log', async () => {
    const servicing = { 'AZSPHERE-CAPABILITIES': rest.capability([13]).toString('base64') };
    expect(jsonOf(await call('GET', '/stats/memory/groups/applications', { headers: servicing }))).to.deep.equal({ error: 13 });
    expect(jsonOf(await call('GET', '/stats/memory/groups/applications'))).to.have.property('memoryStats');
    const report = await call('GET', '/telemetry');
    expect(report.headers['content-type']).to.match(/^application\/octet-stream/);
    expect(JSON.parse(report.body.toString())).to.include({ format: 'sphere-rig/error-report', deviceId: rest.deviceId });
    expect((await call('DELETE', '/telemetry')).status).to.equal(200);
    expect(JSON.parse((await call('GET', '/telemetry')).body.toString()).events).to.deep.equal([]);
    const log = await call('GET', '/log');
    // Exactly this type: Microsoft's client takes the bytes only then (device-log-format.md section 1).
    expect(log.headers['content-type']).to.equal('application/octet-stream');
    expect(decodeDeviceLog(log.body).entries.map((e) => `${e.categoryName}/${e.messageName}`)).to.include('appman_init/LoggerStarted');
  });

  it('restart answers, then the board drops off and comes back', async () => {
    const since = rest.board.console.mark();
    expect(jsonOf(await call('POST', '/restart'))).to.deep.equal({});
    await rest.board.console.expect('[OS] restarting', { timeoutMs: 5_000, since });
    await rest.board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    expect((await call('GET', '/status', { open: true })).status).to.equal(200);
  });

  it('covered every operation of the spec', () => {
    expect(problems).to.deep.equal([]);
    expect([...OPERATIONS].sort(), 'the list above is the spec').to.deep.equal(spec.operations().sort());
    expect([...covered.keys()].sort()).to.deep.equal([...OPERATIONS].sort());
    expect(SPEC_ERRATA).to.have.length(3);
  });
});
