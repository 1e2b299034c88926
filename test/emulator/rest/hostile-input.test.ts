import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { DeviceRestClient } from '../../../src/device/rest/device-rest-client.js';
import { DeviceRestError } from '../../../src/device/rest/device-rest-errors.js';
import { createCa } from '../../../src/pki/certificate-authority.js';
import { DEVICE_HOST, rawHttps, jsonOf, type RawExchange, type RawRequest } from '../../helpers/raw-https.js';
import { RestBoard } from '../../helpers/rest-board.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/**
 * What a careless or hostile host can send: malformed and oversized bodies,
 * wrong media types, unknown paths and methods, garbage headers, connections
 * while the board is down. Every answer is a 4xx with a JSON error (never a
 * 500), and the board keeps serving.
 */
describe('device REST API: hostile input, transport and trust', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let developer: string;

  before(async () => {
    rest = await RestBoard.start();
    developer = rest.capability([11]).toString('base64');
  });

  after(async () => {
    await rest?.stop();
  });

  const send = (spec: Omit<RawRequest, 'port' | 'ca'>): Promise<RawExchange> =>
    rawHttps({ port: rest.port, ca: rest.ca, ...spec, headers: { 'AZSPHERE-CAPABILITIES': developer, ...spec.headers } });

  function expectJsonError(exchange: RawExchange, status: number, code: number): void {
    expect(exchange.status, exchange.body.toString()).to.equal(status);
    expect(exchange.headers['content-type']).to.match(/^application\/json/);
    expect(exchange.headers['rest-api-version']).to.equal('4.5.0');
    expect(jsonOf(exchange)).to.deep.equal({ error: code });
  }

  it('answers malformed JSON bodies with 400 {"error": 22}', async () => {
    const json = { 'Content-Type': 'application/json' };
    const path = '/app/status/0d5e7f1a-2b3c-4d4e-8f5a-6b7c8d9e0f10';
    for (const body of ['{"trigger":', '[1,2,3]', '"start"', '{"trigger": 5}', '{}', 'null', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
      expectJsonError(await send({ method: 'PATCH', path, headers: json, body }), 400, 22);
    }
    expectJsonError(await send({ method: 'PATCH', path, headers: json }), 400, 22);
    expectJsonError(await send({ method: 'POST', path: '/wifi/config/networks', headers: json, body: '{"ssid": 1, "securityState": "psk"}' }), 400, 22);
    expectJsonError(await send({ method: 'POST', path: '/net/proxy', headers: json, body: '{"enabled": true, "address": "p", "port": 70000, "authenticationType": "anonymous"}' }), 400, 22);
  });

  it('answers wrong content types with 415', async () => {
    expectJsonError(await send({ method: 'PUT', path: '/update/stage', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 415, 22);
    expectJsonError(await send({ method: 'PUT', path: '/update/stage', body: 'raw bytes, no type' }), 415, 22);
    expectJsonError(await send({ method: 'POST', path: '/wifi/config/networks', headers: { 'Content-Type': 'text/plain' }, body: 'ssid=x' }), 415, 22);
    expectJsonError(await send({ method: 'PATCH', path: '/wifi/interface', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=b' }), 415, 22);
  });

  it('refuses huge bodies with 400 {"error": 15728644} without reading them, declared or chunked', async () => {
    const big = Buffer.alloc(17 * MiB, 0x41);
    expectJsonError(await send({ method: 'PUT', path: '/update/stage', headers: { 'Content-Type': 'application/octet-stream' }, body: big }), 400, 15728644);
    expectJsonError(await send({ method: 'PUT', path: '/update/stage', headers: { 'Content-Type': 'application/octet-stream' }, body: big, chunked: true }), 400, 15728644);
    const json = { 'Content-Type': 'application/json' };
    expectJsonError(await send({ method: 'POST', path: '/net/proxy', headers: json, body: Buffer.alloc(MiB, 0x20) }), 400, 15728644);
    expectJsonError(await send({ method: 'POST', path: '/net/proxy', headers: json, body: Buffer.alloc(MiB, 0x20), chunked: true }), 400, 15728644);
    expectJsonError(await send({ method: 'GET', path: '/status', body: Buffer.alloc(MiB) }), 400, 15728644);
  });

  it('answers a refused body at once but closes only once the client has sent all of it: no reset meets a client still sending', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: rest.port, ca: rest.ca, servername: 'x.devices.sphere.azure.local' });
    try {
      // Transport errors until the server has closed its side; after that, tearing down is nobody's business.
      const failures: string[] = [];
      let serverEnded = false;
      socket.on('error', (e: NodeJS.ErrnoException) => serverEnded || failures.push(e.code ?? e.message));
      const ended = new Promise<void>((resolve) => socket.once('end', () => resolve(void (serverEnded = true))));
      const closed = new Promise<void>((resolve) => socket.once('close', resolve));
      let received = Buffer.alloc(0);
      const answer = new Promise<void>((resolve) =>
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          const head = received.indexOf('\r\n\r\n');
          const length = head < 0 ? undefined : /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, head).toString('latin1'))?.[1];
          if (length !== undefined && received.length >= head + 4 + Number(length)) resolve();
        }),
      );
      // The headers of a body too large to stage, asking for the connection to close after this exchange ...
      const body = Buffer.alloc(17 * MiB, 0x41);
      socket.write(
        `PUT /update/stage HTTP/1.1\r\nHost: ${DEVICE_HOST}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n` +
          `AZSPHERE-CAPABILITIES: ${developer}\r\nConnection: close\r\n\r\n`,
      );
      await Promise.race([answer, closed]);
      const text = received.toString('latin1');
      expect(text).to.match(/^HTTP\/1\.1 400 /);
      expect(text).to.match(/\r\nconnection: close\r\n/i);
      expect(text.slice(text.indexOf('\r\n\r\n') + 4)).to.equal('{"error":15728644}');
      // ... and only now the body, more than socket buffers hold: a server that hung up with its
      // answer resets these writes (EPIPE, ECONNRESET); one that reads the rest first takes them all.
      const written = await new Promise<string>((resolve) => socket.write(body, (error) => resolve(error ? ((error as NodeJS.ErrnoException).code ?? error.message) : 'written')));
      expect(written).to.equal('written');
      // Then the server closes, cleanly, having said nothing more.
      await Promise.race([ended, closed]);
      expect(serverEnded, 'the connection was reset, not closed').to.equal(true);
      expect(failures).to.deep.equal([]);
      expect(received.toString('latin1')).to.equal(text);
    } finally {
      socket.destroy();
    }
  });

  it('answers unknown paths and methods with 404 {"error": 15728642}, bad parameters with 400', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/nope'],
      ['GET', '/STATUS'],
      ['DELETE', '/status'],
      ['POST', '/images'],
      ['PUT', '/app/status/0d5e7f1a-2b3c-4d4e-8f5a-6b7c8d9e0f10'],
      ['GET', '/app/status'],
      ['GET', `/${'a'.repeat(4000)}`],
      ['OPTIONS', '/status'],
    ] as const) {
      expectJsonError(await send({ method, path }), 404, 15728642);
    }
    expectJsonError(await send({ method: 'GET', path: '/app/status/..%2F..%2Fetc%2Fpasswd' }), 400, 22);
    expectJsonError(await send({ method: 'GET', path: '/app/status/%E0%A4%A' }), 400, 22);
    expectJsonError(await send({ method: 'GET', path: '/wifi/config/networks/99999999999' }), 400, 22);
  });

  it('answers garbage headers: a bad or foreign capability image is 403 {"error": 13}, unparseable headers 400', async () => {
    expectJsonError(await send({ method: 'GET', path: '/images', headers: { 'AZSPHERE-CAPABILITIES': 'not base64 !!' } }), 403, 13);
    expectJsonError(await send({ method: 'GET', path: '/images', headers: { 'AZSPHERE-CAPABILITIES': Buffer.alloc(392, 7).toString('base64') } }), 403, 13);
    const foreign = rest.keys.capability('ab'.repeat(64), [11]).toString('base64');
    expectJsonError(await send({ method: 'GET', path: '/images', headers: { 'AZSPHERE-CAPABILITIES': foreign } }), 403, 13);
    expectJsonError(await send({ method: 'GET', path: '/status', headers: { 'X-Padding': 'x'.repeat(20_000) } }), 400, 22);
  });

  it('keeps serving after all of it: no 500 was logged and the process is alive', async () => {
    const client = rest.client();
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.status()));
    expect(answers.every((a) => a.apiVersion === '4.5.0')).to.equal(true);
    expect(rest.emulator.child.exitCode).to.equal(null);
    expect(rest.emulator.stderr.filter((line) => line.includes('request failed'))).to.deep.equal([]);
  });

  it('is reachable with curl --cacert <the rig CA> and the device host name, and only so', async () => {
    const host = 'x.devices.sphere.azure.local';
    const args = ['-sS', '--max-time', '10', '--resolve', `${host}:${rest.port}:127.0.0.1`, '-H', 'Accept: application/json'];
    const { stdout } = await run('curl', [...args, '--cacert', rest.surfaces.restCa, '-i', `https://${host}:${rest.port}/status`]);
    expect(stdout).to.match(/^HTTP\/1\.1 200/);
    expect(stdout).to.match(/REST-API-Version: 4\.5\.0/i);
    expect(stdout).to.match(/\{"uptime":\d+\}\s*$/);
    // The system trust store does not vouch for the rig's CA.
    const untrusted = await run('curl', [...args, `https://${host}:${rest.port}/status`]).then(() => 0, (e: { code: number }) => e.code);
    expect(untrusted).to.equal(60);
    // A name the certificate is not for.
    const wrongName = await run('curl', ['-sS', '--max-time', '10', '--resolve', `device.example:${rest.port}:127.0.0.1`, '--cacert', rest.surfaces.restCa, `https://device.example:${rest.port}/status`]).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(wrongName).to.be.oneOf([51, 60]);
  });

  it('keeps the rig CA key private: folder 0700, key 0600', () => {
    const dir = dirname(rest.surfaces.restCa);
    expect(statSync(dir).mode & 0o777).to.equal(0o700);
    expect(statSync(`${dir}/ca.key.pem`).mode & 0o777).to.equal(0o600);
    expect(statSync(rest.surfaces.restCa).mode & 0o777).to.equal(0o644);
  });

  it('a client pinning another CA refuses the board as not the one expected', async () => {
    const other = await createCa({ subject: 'CN=Some other CA' });
    const client = new DeviceRestClient({ baseUrl: rest.surfaces.restUrl, caPem: other.cert.toPem() });
    try {
      const error = await client.status().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(DeviceRestError);
      expect(error).to.include({ failureClass: 'infra-error', code: 'device-identity-rejected' });
    } finally {
      client.close();
    }
  });

  it('while the board is off it refuses connections, then answers again once it is up', async () => {
    const client = rest.client();
    await client.status();
    await rest.board.control.request('power', { on: false });
    const error = await client.status().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DeviceRestError);
    expect(error).to.include({ failureClass: 'infra-error', code: 'device-unreachable' });
    // A raw TLS handshake is reset too: nothing answers while the link is down.
    const handshake = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: rest.port, ca: rest.ca, servername: 'x.devices.sphere.azure.local' });
      socket.once('secureConnect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(handshake).to.equal('ECONNRESET');
    const since = rest.board.console.mark();
    await rest.board.control.request('power', { on: true });
    await rest.board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
    expect((await client.status()).apiVersion).to.equal('4.5.0');
  });
});
