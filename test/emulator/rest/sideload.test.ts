import { expect } from 'chai';
import { buildAsxipfs } from '../../../src/image/asxipfs.js';
import { buildSignedImage } from '../../../src/image/image-builder.js';
import { ImageType } from '../../../src/image/image-types.js';
import { DeviceRefusedError } from '../../../src/device/rest/device-rest-errors.js';
import type { DeviceRestClient } from '../../../src/device/rest/device-rest-client.js';
import { readFixture, TEST_APP } from '../../helpers/fixtures.js';
import { RestBoard } from '../../helpers/rest-board.js';

const DEV_APP = '0d5e7f1a-2b3c-4d4e-8f5a-6b7c8d9e0f10';
const SECOND_DEV_APP = '1e6f801b-3c4d-4e5f-9a6b-7c8d9e0f1a21';
const MANUAL_APP = '2f70912c-4d5e-4f60-8b7c-8d9e0f1a2b32';
const SDK_APP = '1689d8b2-c835-2e27-27ad-e894d6d15fa9';

async function refusal(promise: Promise<unknown>): Promise<DeviceRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the device should have refused').to.be.instanceOf(DeviceRefusedError);
  return error as DeviceRefusedError;
}

describe('sideloading over the device REST API (PUT /update/stage, POST /update/install)', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let servicing: DeviceRestClient;
  let developer: DeviceRestClient;

  before(async () => {
    rest = await RestBoard.start();
    servicing = rest.client([13]);
    developer = rest.client([11]);
  });

  after(async () => {
    await rest?.stop();
  });

  /** Sideloads, expects the refusal code, and checks nothing changed: /images, flash, UART. */
  async function expectRefusedChangingNothing(image: Buffer, code: number, client: DeviceRestClient = developer): Promise<void> {
    const imagesBefore = await servicing.images();
    await rest.board.control.request('flash-mark', {});
    const since = rest.board.console.mark();
    const error = await refusal(client.sideload(image));
    expect(error.deviceErrorCode, error.message).to.equal(code);
    expect(error.failureClass).to.equal('test-failed');
    expect(await servicing.images()).to.deep.equal(imagesBefore);
    const info = (await rest.board.control.request('info', {})) as { flash: { operationsSinceMark: number } };
    expect(info.flash.operationsSinceMark, 'flash operations').to.equal(0);
    expect(rest.board.console.lines(since).filter((l) => l.text.startsWith('[APP]') || l.text.startsWith('[OS] app'))).to.deep.equal([]);
  }

  it('refuses the sideload with 403 {"error": 13} when the host has no capability at all', async () => {
    const app = rest.keys.app({ name: 'Dev', componentId: DEV_APP, development: true }, 'development-app');
    await expectRefusedChangingNothing(app, 13, rest.client());
  });

  it('refuses a test-signed app without AppDevelopment with 7340047 and leaves /images unchanged', async () => {
    const app = rest.keys.app({ name: 'Dev', componentId: DEV_APP, development: true }, 'development-app');
    await expectRefusedChangingNothing(app, 7340047, servicing);
  });

  it('refuses each bad package with its own code and changes nothing', async () => {
    const signer = rest.keys.signer('production-app');
    const noEntryPoint = buildSignedImage(
      buildAsxipfs([
        { path: 'bin/app', data: Buffer.from('\x7fELF'), mode: 0o755 },
        { path: 'app_manifest.json', data: Buffer.from(JSON.stringify({ SchemaVersion: 1, Name: 'NoEntry', ComponentId: DEV_APP, CmdArgs: [], Capabilities: {} })) },
      ]),
      { imageType: ImageType.Applications, componentId: DEV_APP, name: 'NoEntry' },
      signer,
    );
    await expectRefusedChangingNothing(noEntryPoint, 2097155);

    const good = rest.keys.app({ name: 'Good', componentId: DEV_APP });
    const tampered = Buffer.from(good);
    tampered[100] = tampered[100]! ^ 0xff;
    await expectRefusedChangingNothing(tampered, 7340047);

    await expectRefusedChangingNothing(good.subarray(0, Math.floor(good.length / 2)), 7340050);

    const huge = rest.keys.app({ name: 'Huge', componentId: DEV_APP, executableBytes: 600 * 1024 });
    await expectRefusedChangingNothing(huge, 14680082);

    await rest.board.control.request('ota-in-progress', { value: true });
    try {
      await expectRefusedChangingNothing(good, 7340071);
      expect((await servicing.images()).is_ota_update_in_progress).to.equal(true);
    } finally {
      await rest.board.control.request('ota-in-progress', { value: false });
    }
  });

  it('with AppDevelopment sent in the header, the app is installed, runs, and the UART shows it start', async () => {
    const app = rest.keys.app({ name: 'Dev', componentId: DEV_APP, development: true }, 'development-app');
    const since = rest.board.console.mark();
    const progress: number[] = [];
    const result = await developer.sideload(app, { onProgress: (sent, total) => (expect(total).to.equal(app.length), progress.push(sent)) });
    expect(result).to.deep.equal({ restartingSystem: false });
    expect(progress[0]).to.equal(0);
    expect(progress.at(-1)).to.equal(app.length);
    expect([...progress].sort((a, b) => a - b)).to.deep.equal(progress);
    await rest.board.console.expect(`[APP] ${DEV_APP} started`, { timeoutMs: 5_000, since });
    // Loaded with the request's capability session at once: no false refusal on the UART first.
    expect(rest.board.console.lines(since).map((l) => l.text).filter((text) => text.includes('refused'))).to.deep.equal([]);
    expect(await developer.appStatus(DEV_APP)).to.equal('running');
    const images = await servicing.images();
    expect(images.components?.find((c) => c.uid === DEV_APP)).to.deep.include({ image_type: 10, name: 'Dev', does_image_type_require_restart: false });
  });

  it('with AppDevelopment installed (its capability image sideloaded), test-signed apps run without the header', async () => {
    await developer.sideload(rest.capability([11]));
    expect(await rest.client().capabilities()).to.deep.equal([11]);
    const plain = rest.client();
    const since = rest.board.console.mark();
    await plain.sideload(rest.keys.app({ name: 'Dev 2', componentId: SECOND_DEV_APP, development: true }, 'development-app'));
    await rest.board.console.expect(`[APP] ${SECOND_DEV_APP} started`, { timeoutMs: 5_000, since });
    expect(await plain.appStatus(SECOND_DEV_APP)).to.equal('running');
    // A real SDK-built package, signed with Microsoft's SDK test key, runs too.
    await plain.sideload(readFixture(TEST_APP));
    await rest.board.console.expect(`[APP] ${SDK_APP} started`, { timeoutMs: 5_000, since });
    expect((await plain.images()).components?.map((c) => c.uid)).to.include.members([DEV_APP, SECOND_DEV_APP, SDK_APP]);
  });

  it('appControlMode Manual leaves the app stopped until started; removing it takes it off /images', async () => {
    const plain = rest.client();
    await plain.sideload(rest.keys.app({ name: 'Manual', componentId: MANUAL_APP }), { appControlMode: 'Manual' });
    expect(await plain.appStatus(MANUAL_APP)).to.equal('stopped');
    expect(await plain.startApp(MANUAL_APP)).to.deep.equal({ state: 'running' });
    expect(await plain.removeApp(MANUAL_APP)).to.deep.equal({ restartingSystem: false });
    expect(await plain.appStatus(MANUAL_APP)).to.equal('notPresent');
    expect((await plain.images()).components?.map((c) => c.uid)).not.to.include(MANUAL_APP);
    expect((await refusal(plain.removeApp(MANUAL_APP))).deviceErrorCode).to.equal(14680076);
  });

  it('an OS image set sideloaded image by image installs with restartingSystem and boots the new version', async () => {
    const plain = rest.client();
    const since = rest.board.console.mark();
    const result = await plain.sideload(rest.keys.osSet('22.12', 2));
    expect(result).to.deep.equal({ restartingSystem: true });
    await rest.board.console.expect('[OS] update committed: OS 22.12 in slot b', { timeoutMs: 10_000, since });
    expect(await plain.osVersion()).to.equal('22.12');
    // An OS image signed by an app key is not an OS image: refused at staging.
    const wrongSigner = buildSignedImage(Buffer.alloc(64), { imageType: ImageType.NormalWorldKernel, componentId: '5e8c0c1e-0007-4a61-9d4b-000000000007', name: 'kernel' }, rest.keys.signer('production-app'));
    await expectRefusedChangingNothing(wrongSigner, 7340047, plain);
    // The fuses now count 2: an OS image of security version 1 is refused at staging, before any install.
    const rolledBack = rest.keys.osSet('22.10', 1)[0]!;
    await expectRefusedChangingNothing(rolledBack, 7340056, plain);
  });
});
