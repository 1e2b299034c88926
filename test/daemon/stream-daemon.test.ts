import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE_TOKEN_REVOKED } from '../../src/daemon/stream-protocol.js';
import { CliProcess } from '../helpers/cli-process.js';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { StreamClient } from './helpers/stream-client.js';
import { waitFor } from './helpers/temp-dir.js';

const RIG = fileURLToPath(new URL('./fixtures/wiring-rig.yaml', import.meta.url));

/**
 * The stream's guards as `sphere-rig up` wires them (a daemon process, its HTTP
 * API): revoking a token over the API closes its open streams, and a web page
 * of another origin cannot open a stream through a browser.
 */
describe('the event stream of the daemon process: token revocation and origin check', function () {
  this.timeout(120_000);
  let stateDir: string;
  let daemon: DaemonProcess;
  const clients: StreamClient[] = [];

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-stream-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.ws.terminate();
  });

  after(async () => {
    await daemon?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const streamUrl = (query: string): string => `${daemon.url.replace('http', 'ws')}/api/v1/stream?${query}`;

  async function open(query: string, headers: Record<string, string>): Promise<StreamClient> {
    const client = await StreamClient.connect(streamUrl(query), headers);
    clients.push(client);
    return client;
  }

  it('closes the streams of a token with 4001 when DELETE /api/v1/tokens/{id} revokes it', async () => {
    const created = await daemon.request<{ token: string; id: string }>('POST', '/api/v1/tokens', { name: 'qa-browser', role: 'viewer' });
    expect(created.status).to.equal(201);
    const doomed = await open('subscribe=*', { authorization: `Bearer ${created.body.token}` });
    const kept = await open('subscribe=*', { authorization: `Bearer ${daemon.token}` });
    await doomed.waitForControl('live');
    await kept.waitForControl('live');
    let reason = '';
    doomed.ws.once('close', (_code, text) => (reason = text.toString()));

    expect((await daemon.request('DELETE', `/api/v1/tokens/${created.body.id}`)).status).to.equal(204);
    await waitFor(() => doomed.closeCode !== null, 10_000, 'the stream of the revoked token to close');
    expect(doomed.closeCode).to.equal(CLOSE_TOKEN_REVOKED);
    expect(reason).to.equal('token revoked');
    expect(kept.closeCode).to.equal(null);
    // And it cannot come back.
    const again = await open('subscribe=*', { authorization: `Bearer ${created.body.token}` }).then(
      () => null,
      (e: { status: number }) => e,
    );
    expect(again?.status).to.equal(401);

    const metrics = await daemon.request<string>('GET', '/metrics');
    expect(metrics.body).to.match(/^sphere_rig_stream_closed_total\{reason="revoked"\} 1$/m);
    expect(metrics.body).to.match(/^sphere_rig_stream_closed_total\{reason="rate"\} 0$/m);
  });

  it('sphere-rig watch stops at once, exit 2, when its token is revoked (instead of reconnecting for ever)', async () => {
    const created = await daemon.request<{ token: string; id: string }>('POST', '/api/v1/tokens', { name: 'qa-watcher', role: 'viewer' });
    const watch = new CliProcess(['watch', '--daemon', daemon.url, '--token', created.body.token, '--topics', '*']);
    // Once it is live, an event reaches it.
    await watch.waitForLine(/^\[live\]/, 'stderr');
    await daemon.request('POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'bench-1' });
    await watch.waitForLine(/bench-1/);
    expect((await daemon.request('DELETE', `/api/v1/tokens/${created.body.id}`)).status).to.equal(204);
    expect(await watch.exited, watch.output).to.equal(2);
    expect(watch.stderr.join('\n')).to.match(/ended the event stream: token revoked \(close 4001\)/);
  });

  it('refuses an upgrade from another web origin with 403 and accepts one from its own', async () => {
    const auth = { authorization: `Bearer ${daemon.token}` };
    const refused = await open('subscribe=*', { ...auth, origin: 'http://attacker.example' }).then(
      () => null,
      (e: { status: number; body: string }) => e,
    );
    expect(refused?.status).to.equal(403);
    const { error } = JSON.parse(refused!.body) as { error: { code: string; message: string } };
    expect(error.code).to.equal('forbidden-origin');
    expect(error.message).to.contain('http://attacker.example');

    const own = await open('subscribe=*', { ...auth, origin: daemon.url });
    await own.waitForControl('live');
    const local = await open('subscribe=*', { ...auth, origin: daemon.url.replace('127.0.0.1', 'localhost') });
    await local.waitForControl('live');
  });
});
