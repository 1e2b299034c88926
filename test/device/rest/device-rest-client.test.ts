import { expect } from 'chai';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DeviceRestClient, REAL_DEVICE_CA_PATH } from '../../../src/device/rest/device-rest-client.js';
import { DeviceRefusedError, DeviceRestError } from '../../../src/device/rest/device-rest-errors.js';
import { createCa, issueCertificate, type CertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { exportPrivateKeyPem, generateSigningKeyPair } from '../../../src/pki/signing-key.js';
import { DEVICE_ERROR_MESSAGES } from '../../../src/util/device-error-codes.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A stand-in device on loopback: any behaviour a test needs, a certificate from a test CA. */
async function fakeDevice(ca: CertificateAuthority, names: string[]): Promise<{ server: Server; url: string; handle: (h: Handler) => void }> {
  const key = generateSigningKeyPair();
  const cert = await issueCertificate({ issuer: ca, publicKey: key.publicKey, subject: { CN: names[0]! }, subjectAltNames: names, extendedKeyUsages: ['serverAuth'] });
  let handler: Handler = (_req, res) => res.end('{}');
  const server = createServer({ key: exportPrivateKeyPem(key.privateKey), cert: cert.toPem() }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, handle: (h) => (handler = h) };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'REST-API-Version': '4.5.0', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

async function failure(promise: Promise<unknown>): Promise<DeviceRestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(DeviceRestError);
  return error as DeviceRestError;
}

describe('device REST client', function () {
  this.timeout(20_000);
  let ca: CertificateAuthority;
  let device: Awaited<ReturnType<typeof fakeDevice>>;
  let wrongName: Awaited<ReturnType<typeof fakeDevice>>;
  const clients: DeviceRestClient[] = [];
  const client = (options: Partial<ConstructorParameters<typeof DeviceRestClient>[0]> = {}): DeviceRestClient => {
    const made = new DeviceRestClient({ baseUrl: device.url, caPem: ca.cert.toPem(), ...options });
    clients.push(made);
    return made;
  };

  before(async () => {
    ca = await createCa({ subject: 'CN=Test device CA' });
    device = await fakeDevice(ca, ['*.devices.sphere.azure.local', '127.0.0.1']);
    wrongName = await fakeDevice(ca, ['127.0.0.1', 'device.example']);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  after(() => {
    device.server.close();
    wrongName.server.close();
    device.server.closeAllConnections();
    wrongName.server.closeAllConnections();
  });

  it('sends the device host name, Accept and the capability image on every request, and reads the API version', async () => {
    const seen: IncomingMessage['headers'][] = [];
    device.handle((req, res) => {
      seen.push(req.headers);
      json(res, 200, { uptime: 42 }, { 'REST-API-Version': '4.6.0' });
    });
    const capability = Buffer.from('capability image bytes');
    const c = client({ capabilityImage: capability });
    expect(await c.status()).to.deep.equal({ uptime: 42, apiVersion: '4.6.0' });
    expect(c.apiVersion).to.equal('4.6.0');
    expect(seen[0]).to.include({ host: '*.devices.sphere.azure.local', accept: 'application/json', 'azsphere-capabilities': capability.toString('base64') });
  });

  it('refuses any address but loopback or the service link, and plain HTTP, before sending anything', () => {
    for (const baseUrl of ['https://10.1.2.3', 'https://example.com', 'https://localhost:443', 'http://127.0.0.1:8080', 'https://127.0.0.1:1/api', 'not a url']) {
      expect(() => new DeviceRestClient({ baseUrl, caPem: ca.cert.toPem() }), baseUrl).to.throw(/device URL/);
    }
    expect(() => new DeviceRestClient({ baseUrl: 'https://127.0.0.1:1', caPem: 'no pem here' })).to.throw(/PEM certificate/);
    new DeviceRestClient({ baseUrl: 'https://[::1]:4443', caPem: ca.cert.toPem() }).close();
  });

  it('turns {"error": code} into a DeviceRefusedError with the message from device-error-codes.json', async () => {
    device.handle((_req, res) => json(res, 403, { error: 7340047 }));
    const error = await failure(client().stageImage(Buffer.alloc(100)));
    expect(error).to.be.instanceOf(DeviceRefusedError);
    expect(error).to.include({ failureClass: 'test-failed', code: 'device-error-7340047', deviceErrorCode: 7340047, httpStatus: 403 });
    expect((error as DeviceRefusedError).deviceMessage).to.equal(DEVICE_ERROR_MESSAGES[7340047]);
    expect(error.message).to.include('HTTP 403 on PUT /update/stage');
    device.handle((_req, res) => json(res, 500, '<html>oops</html>'));
    expect(await failure(client().osVersion())).to.include({ failureClass: 'device-fault', code: 'device-http-error' });
    device.handle((_req, res) => json(res, 200, 'not json'));
    expect(await failure(client().osVersion())).to.include({ failureClass: 'infra-error', code: 'device-bad-reply' });
  });

  it('times out a device that does not answer', async () => {
    device.handle(() => undefined);
    const started = Date.now();
    const error = await failure(client().status({ timeoutMs: 200 }));
    expect(error).to.include({ failureClass: 'timeout', code: 'device-rest-timeout' });
    expect(Date.now() - started).to.be.lessThan(2_000);
  });

  it('honours an AbortSignal, before and during a call', async () => {
    device.handle(() => undefined);
    const aborted = new AbortController();
    aborted.abort();
    expect(await failure(client().status({ signal: aborted.signal }))).to.include({ failureClass: 'cancelled' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await failure(client().images({ signal: controller.signal, timeoutMs: 5_000 }))).to.include({ failureClass: 'cancelled' });
  });

  it('refuses a device whose certificate is not for *.devices.sphere.azure.local, or from another CA', async () => {
    const named = new DeviceRestClient({ baseUrl: wrongName.url, caPem: ca.cert.toPem() });
    clients.push(named);
    expect(await failure(named.status())).to.include({ failureClass: 'infra-error', code: 'device-identity-rejected' });
    const other = await createCa({ subject: 'CN=Another CA' });
    expect(await failure(client({ caPem: other.cert.toPem() }).status())).to.include({ failureClass: 'infra-error', code: 'device-identity-rejected' });
  });

  it('reports a board that is not there as unreachable (infra-error)', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const error = await failure(client({ baseUrl: `https://127.0.0.1:${port}` }).status());
    expect(error).to.include({ failureClass: 'infra-error', code: 'device-unreachable' });
  });

  it('sideloads with progress: stage every image, then install', async () => {
    const received: Array<{ method: string; url: string; type: string | undefined; length: number }> = [];
    device.handle((req, res, body) => {
      received.push({ method: req.method!, url: req.url!, type: req.headers['content-type'], length: body.length });
      json(res, 200, req.url === '/update/install' ? { restartingSystem: true } : {});
    });
    const images = [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(300 * 1024, 2)];
    const progress: Array<[number, number]> = [];
    const result = await client().sideload(images, { onProgress: (sent, total) => progress.push([sent, total]), appControlMode: 'Manual' });
    expect(result).to.deep.equal({ restartingSystem: true });
    expect(received).to.deep.equal([
      { method: 'PUT', url: '/update/stage', type: 'application/octet-stream', length: 1024 * 1024 },
      { method: 'PUT', url: '/update/stage', type: 'application/octet-stream', length: 300 * 1024 },
      { method: 'POST', url: '/update/install', type: 'application/json', length: JSON.stringify({ appControlMode: 'Manual' }).length },
    ]);
    const total = 1324 * 1024;
    expect(progress.every(([, t]) => t === total)).to.equal(true);
    const sent = progress.map(([s]) => s);
    expect(sent[0]).to.equal(0);
    expect(sent.at(-1)).to.equal(total);
    expect([...sent].sort((a, b) => a - b)).to.deep.equal(sent);
  });

  it('reads app state in the devices\' {"state"} form and in the spec\'s bare form', async () => {
    device.handle((_req, res) => json(res, 200, { state: 'running' }));
    expect(await client().appStatus('0D5E7F1A-2B3C-4D4E-8F5A-6B7C8D9E0F10')).to.equal('running');
    device.handle((_req, res) => json(res, 200, '"stopped"'));
    expect(await client().appStatus('0d5e7f1a-2b3c-4d4e-8f5a-6b7c8d9e0f10')).to.equal('stopped');
    const bad = await client().appStatus('../../etc').then(() => undefined, (e: unknown) => e);
    expect(bad).to.be.instanceOf(Error).with.property('message').that.matches(/not a GUID/);
  });

  it('cuts off an answer larger than expected', async () => {
    device.handle((_req, res) => json(res, 200, JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) })));
    expect(await failure(client().wifiInterface())).to.include({ code: 'device-bad-reply' });
  });

  it('knows where the real boards\' CA lives', () => {
    expect(REAL_DEVICE_CA_PATH).to.match(/fixtures\/azure-sphere\/device-rest-api-ca\.pem$/);
  });
});
