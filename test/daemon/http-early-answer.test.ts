import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess } from '../helpers/daemon-process.js';
import { chunkedUpload, type UploadOptions } from './helpers/chunked-upload.js';

const RIG = fileURLToPath(new URL('./fixtures/wiring-rig.yaml', import.meta.url));
const MiB = 1024 * 1024;

/**
 * An answer the daemon sends before it has read a request's body (413 for a
 * declared length over the limit, 415, 401 on the API and on /daa) reaches a
 * client that is still uploading: the client stops at 64 KiB until the answer
 * has arrived, then sends the rest of its 3 MiB, as fetch or curl would, and
 * must read a whole answer, never an EPIPE or a reset. A body too large to be
 * worth reading is still cut off, past a bound.
 */
describe('the daemon answers an upload it refuses early, and the client reads the answer, not a reset', function () {
  this.timeout(120_000);
  let stateDir: string;
  let daemon: DaemonProcess;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-early-answer-'));
    daemon = await DaemonProcess.start({ rig: RIG, stateDir });
  });

  after(async () => {
    await daemon?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const json = { 'content-type': 'application/json' };
  const upload = (options: Omit<UploadOptions, 'port'>) => chunkedUpload({ port: daemon.port, ...options });

  const early: Array<[string, () => Omit<UploadOptions, 'port'>, number, string]> = [
    ['a JSON body declared over 256 KiB', () => ({ path: '/api/v1/runs', headers: { ...json, authorization: `Bearer ${daemon.token}` }, size: 3 * MiB }), 413, 'body-too-large'],
    ['a body that is not JSON', () => ({ path: '/api/v1/runs', headers: { 'content-type': 'text/plain', authorization: `Bearer ${daemon.token}` }, size: 3 * MiB }), 415, 'unsupported-media-type'],
    ['a request without a token', () => ({ path: '/api/v1/runs', headers: json, size: 3 * MiB }), 401, 'unauthenticated'],
    ['a DAA management request without a token', () => ({ path: '/daa/tenants', headers: json, size: 3 * MiB }), 401, 'unauthenticated'],
  ];
  for (const [what, options, status, code] of early) {
    it(`answers ${status} to ${what} at once, and reads the rest of the upload before closing`, async () => {
      for (let i = 0; i < 3; i++) {
        const outcome = await upload({ ...options(), awaitAnswerAfterBytes: 64 * 1024 });
        expect(outcome.transportError, `attempt ${i + 1}`).to.equal(null);
        expect(outcome.status).to.equal(status);
        expect((JSON.parse(outcome.body) as { error: { code: string } }).error.code).to.equal(code);
      }
    });
  }

  it('answers 413 to a chunked JSON body that grows past the limit, and to POST /daa/verify over 64 KiB, read to their end', async () => {
    const cases: Array<Omit<UploadOptions, 'port'>> = [
      { path: '/api/v1/runs', headers: { ...json, authorization: `Bearer ${daemon.token}` }, size: 3 * MiB, chunked: true },
      { path: '/daa/verify', headers: json, size: 900 * 1024 },
      { path: '/daa/verify', headers: json, size: 900 * 1024, chunked: true },
    ];
    for (const options of cases) {
      const outcome = await upload(options);
      expect(outcome.transportError, options.path).to.equal(null);
      expect(outcome.status, options.path).to.equal(413);
    }
  });

  it('cuts off a refused upload that goes on past 16 MiB (64 MiB sent), and keeps serving', async () => {
    const outcome = await upload({ path: '/api/v1/runs', headers: json, size: 64 * MiB, chunkBytes: 256 * 1024, awaitAnswerAfterBytes: 64 * 1024 });
    expect(outcome.status).to.equal(401);
    expect(outcome.transportError).to.be.oneOf(['EPIPE', 'ECONNRESET']);
    expect((await daemon.request('GET', '/api/v1/health', undefined, null)).status).to.equal(200);
  });
});
