import { expect } from 'chai';
import { recoverBoard, type RecoveryResult } from '../../../src/device/recovery-client.js';
import type { RecoveryProgress } from '../../../src/device/recovery-progress.js';
import { buildCapabilityImage } from '../../../src/image/capability-image.js';
import { cobsDecode } from '../../../src/link/cobs.js';
import { decodeFrame } from '../../../src/link/recovery-frame.js';
import { RecoveryErrorCode } from '../../../src/link/recovery-error-codes.js';
import { RecoveryEventCode, type RecoveryMessage } from '../../../src/link/recovery-messages.js';
import { SOH, XMODEM_PACKET_BYTES } from '../../../src/link/xmodem.js';
import { rawSignerFor } from '../../../src/pki/raw-signer.js';
import { findSigningRole } from '../../../src/pki/signing-roles.js';
import { recoveryImageFileName } from '../../../src/image/recovery-set-layout.js';
import { hex } from '../../link/bytes.js';
import { memorySource, MemoryRecoveryRig, RecordingTarget, RecoveryKeys, WireLog } from './memory-recovery-rig.js';
import { expectRecoveryFailure } from '../../helpers/recovery-failure.js';

/**
 * The device's ROM and agent against the host's recovery client on an in-memory
 * channel pair: the whole sequence of recovery-protocol.md's table, its wire
 * vectors, and the faults a recovery must survive or refuse.
 */

describe('recovery over a memory link: ROM and agent against the host client', function () {
  this.timeout(30_000);
  let keys: RecoveryKeys;
  let set: ReturnType<RecoveryKeys['set']>;

  before(async () => {
    keys = await RecoveryKeys.generate();
    set = keys.set('23.01');
  });

  async function recover(
    rig: MemoryRecoveryRig,
    options: Partial<Parameters<typeof recoverBoard>[0]> = {},
  ): Promise<RecoveryResult> {
    try {
      return await recoverBoard({ line: rig.line, images: memorySource(set), pins: rig.pins, timeouts: { romBannerMs: 2_000, messageMs: 3_000 }, ...options });
    } finally {
      rig.stop();
    }
  }

  it('runs the sequence of the spec table, message by message, and writes the set', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const fromHost = new WireLog();
    const fromDevice = new WireLog();
    const rig = new MemoryRecoveryRig(target, { aToB: { intercept: fromHost.record }, bToA: { intercept: fromDevice.record } });
    const result = await recover(rig);

    const images = set.manifest.entries.length;
    const expectedDevice = [
      'Initialization',
      'RecoveryEvent 1',
      'LogConfigQuery',
      'ImageRequestCapability',
      'ImageRequestByFilename',
      'LogConfigQuery',
      'RecoveryEvent 6',
      'BaudrateSwitchQuery',
      'StatusRequest',
      'RecoveryEvent 7',
      'RecoveryEvent 8',
      'ImageRequestByFilename',
      'RecoveryEvent 9',
      'RecoveryEvent 10',
      'ProgressUpdate',
      ...Array.from({ length: images }, () => ['ImageRequestByFilename', 'ProgressUpdate']).flat(),
      'RecoveryEvent 11',
      'RecoveryComplete',
    ];
    expect(fromDevice.kinds()).to.deep.equal(expectedDevice);
    expect(fromHost.kinds()).to.deep.equal([
      'InitializationAck',
      'SimpleQueryAck',
      'ImageRequestError',
      'ImageRequestAck',
      'SimpleQueryAck',
      'SimpleQueryAck',
      'ServerReady',
      'ImageRequestAck',
      ...Array.from({ length: images }, () => 'ImageRequestAck'),
    ]);
    // Stage 1 text, then the device ID as the spec lays out Initialization.
    const text = Buffer.concat(fromDevice.writes.filter((w) => w.length > 1 && w[w.length - 1] === 0x0a)).toString('latin1');
    expect(text).to.match(/^RECOVERY\r\n[0-9A-F]{32}\r\n\+GOOD\r\n\[1BL\] BOOT: 380a0300\/00000001\/02000000\r\n$/);
    const decodedInit = cobsDecode(fromDevice.frames[0]!.bytes.subarray(0, -1));
    expect(decodedInit.subarray(0, 10).equals(hex('89 00 01 00 85 00 01 00 00 00'))).to.equal(true);
    expect(decodedInit.subarray(10, 138).toString('latin1')).to.equal(target.deviceId);
    expect(fromDevice.frames[0]!.message).to.deep.include({ kind: 'Initialization', deviceId: target.deviceId });

    // The set went to flash after an erase, in boot order, exactly as built.
    expect(target.erases).to.equal(1);
    expect(target.written?.images.map((b) => b.toString('hex'))).to.deep.equal(set.osImages.map((i) => i.bytes.toString('hex')));
    expect(target.written?.capability).to.equal(undefined);
    expect(target.lineHistory.at(-1)).to.deep.equal({ baudRate: 3_000_000, rtsCts: true });

    expect(result.deviceId).to.equal(target.deviceId);
    expect(result.imageCount).to.equal(images);
    expect(result.totalBytes).to.equal(set.osImages.reduce((sum, i) => sum + i.bytes.length, 0));
    expect(result.events).to.deep.equal([1, 6, 7, 8, 9, 10, 11]);
    expect(result.line).to.deep.equal({ baudRate: 3_000_000, rtsCts: true });
    expect(result.bootLine).to.equal('[1BL] BOOT: 380a0300/00000001/02000000');
    expect(result.retransmissions).to.equal(0);
    const everyFile = set.files.reduce((sum, f) => sum + f.bytes.length, 0);
    expect(result.xmodemBytes).to.equal(everyFile);
    expect(rig.line.history).to.deep.equal([{ baudRate: 3_000_000, rtsCts: true }]);
  });

  it('reproduces the wire vectors: InitializationAck, RecoveryEvent 1 + LogConfigQuery, SimpleQueryAck 0, the requests', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const fromHost = new WireLog();
    const fromDevice = new WireLog();
    const rig = new MemoryRecoveryRig(target, { aToB: { intercept: fromHost.record }, bToA: { intercept: fromDevice.record } });
    await recover(rig);
    expect(fromHost.frames[0]!.bytes.equals(hex('02 04 02 a0 01 01 03 d7 ec 00'))).to.equal(true);
    expect(Buffer.concat([fromDevice.frames[1]!.bytes, fromDevice.frames[2]!.bytes]).equals(hex('02 05 02 0b 02 01 04 01 49 b2 00 02 04 02 09 01 01 03 d6 f5 00'))).to.equal(true);
    expect(fromHost.frames[1]!.bytes.equals(hex('02 05 02 a3 02 01 01 03 21 8a 00'))).to.equal(true);
    expect(decodeFrame(fromDevice.frames[3]!.bytes).equals(hex('04 00 08 00 00 00 00 00 ff ff ff ff'))).to.equal(true);
    expect(
      decodeFrame(fromDevice.frames[4]!.bytes).equals(Buffer.concat([hex('07 00 1d 00 00 00 00 00 ff ff ff ff'), Buffer.from('recovery-runtime.bin'), hex('00')])),
    ).to.equal(true);
  });

  it('sends a 392-byte capability image bound to the device (ImageRequestAck vector) and installs it; one bound elsewhere is ignored', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const capability = buildCapabilityImage({ deviceId: target.deviceId, capabilities: [11] }, rawSignerFor(findSigningRole(keys.roles, 'capability')));
    expect(capability.length).to.equal(392);
    const fromHost = new WireLog();
    const rig = new MemoryRecoveryRig(target, { aToB: { intercept: fromHost.record } });
    const result = await recover(rig, { capability });
    const ack = fromHost.frames.find((f) => f.message.kind === 'ImageRequestAck')!;
    expect(decodeFrame(ack.bytes).equals(hex('a4 00 0c 00 00 00 00 00 88 01 00 00 88 01 00 00'))).to.equal(true);
    expect(result.events).to.deep.equal([1, 2, 3, 6, 7, 8, 9, 10, 11]);
    expect(result.capabilitySent).to.equal(true);
    expect(target.written?.capability?.equals(capability)).to.equal(true);

    const other = new RecordingTarget(keys.romTrust());
    const elsewhere = buildCapabilityImage({ deviceId: 'ab'.repeat(64), capabilities: [11] }, rawSignerFor(findSigningRole(keys.roles, 'capability')));
    const second = await recover(new MemoryRecoveryRig(other), { capability: elsewhere });
    expect(second.events).to.deep.equal([1, 2, 6, 7, 8, 9, 10, 11]);
    expect(other.written?.capability).to.equal(undefined);
  });

  it('asks for large images in chunks of 20,480 bytes at increasing offsets, reporting progress', async () => {
    const big = keys.set('23.02', { bodyScale: 3 });
    const target = new RecordingTarget(keys.romTrust());
    const fromDevice = new WireLog();
    const progress: RecoveryProgress[] = [];
    const rig = new MemoryRecoveryRig(target, { bToA: { intercept: fromDevice.record } });
    await recover(rig, { images: memorySource(big), onProgress: (p) => progress.push(p) });
    const rootFs = big.osImages.find((i) => i.imageType === 8)!;
    const name = recoveryImageFileName(rootFs.imageId);
    const requests = fromDevice.frames
      .map((f) => f.message)
      .filter((m): m is Extract<RecoveryMessage, { kind: 'ImageRequestByFilename' }> => m.kind === 'ImageRequestByFilename' && m.filename === name);
    const expected = [];
    for (let offset = 0; offset < rootFs.bytes.length; offset += 20_480) expected.push({ offset, maxLength: 20_480 });
    expect(expected.length).to.be.greaterThan(2);
    expect(requests.map(({ offset, maxLength }) => ({ offset, maxLength }))).to.deep.equal(expected);
    expect(target.written?.images[8]?.equals(rootFs.bytes)).to.equal(true);

    const updates = progress.filter((p) => p.kind === 'device-progress');
    expect(updates.map((p) => p.imagesRemaining)).to.deep.equal([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(updates.at(-1)!.bytesRemaining).to.equal(0);
    const transfers = progress.filter((p) => p.kind === 'transfer' && p.file === name);
    expect(transfers.at(-1)!.chunkOffset! + transfers.at(-1)!.chunkSentBytes!).to.equal(rootFs.bytes.length);
    const steps = progress.filter((p) => p.kind === 'step').map((p) => p.stage);
    expect(steps).to.deep.equal(['enter-rom', 'rom-banner', 'send-1bl', 'start-1bl', 'initialization', 'capability', 'runtime', 'line-switch', 'status', 'erase', 'manifest', 'images', 'complete']);
  });

  it('stays at 115200 with RTS/CTS in low-speed mode', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const rig = new MemoryRecoveryRig(target);
    const result = await recover(rig, { lowSpeed: true });
    expect(result.line).to.deep.equal({ baudRate: 115_200, rtsCts: true });
    expect(target.lineHistory.at(-1)).to.deep.equal({ baudRate: 115_200, rtsCts: true });
  });

  it('passes the device log entries on when the host turns device logging on', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const progress: RecoveryProgress[] = [];
    const result = await recover(new MemoryRecoveryRig(target), { deviceLogs: true, onProgress: (p) => progress.push(p) });
    expect(result.deviceLogs).to.deep.equal(['erasing flash', 'writing OS 23.01']);
    expect(progress.filter((p) => p.kind === 'device-log').map((p) => p.text)).to.deep.equal(result.deviceLogs);
  });

  it('survives corrupted XMODEM blocks: the device NAKs, the host sends the block again', async () => {
    const target = new RecordingTarget(keys.romTrust());
    let packets = 0;
    const rig = new MemoryRecoveryRig(target, {
      aToB: {
        intercept: (data) => {
          if (data.length !== XMODEM_PACKET_BYTES || data[0] !== SOH) return undefined;
          packets += 1;
          // One block of the 1BL (stage 1) and one of the runtime (stage 2) arrive with a flipped byte.
          if (packets !== 5 && packets !== 200) return undefined;
          const bad = Buffer.from(data);
          bad[60] ^= 0x40;
          return bad;
        },
      },
    });
    const result = await recover(rig);
    expect(result.retransmissions).to.equal(2);
    expect(target.written?.images).to.have.length(10);
  });

  it('drops a host frame with a bad CRC and goes on with the next one', async () => {
    const target = new RecordingTarget(keys.romTrust());
    let first = true;
    const rig = new MemoryRecoveryRig(target, {
      aToB: {
        intercept: (data) => {
          if (!first || !data.equals(hex('02 04 02 a0 01 01 03 d7 ec 00'))) return undefined;
          first = false;
          // A garbled copy of InitializationAck ahead of the good one.
          return Buffer.concat([hex('02 04 02 a0 01 01 03 d7 ed 00'), data]);
        },
      },
    });
    await recover(rig);
    expect(first).to.equal(false);
    expect(target.written?.images).to.have.length(10);
  });

  it('refuses a set signed by a key the chip does not trust, at the 1BL (RecoveryError after -BAD), and a second recovery works', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const foreign = keys.set('23.01', { foreign: true });
    const error = await expectRecoveryFailure(recover(new MemoryRecoveryRig(target), { images: memorySource(foreign) }));
    expect(error.failureClass).to.equal('device-fault');
    expect(error.step).to.equal('start-1bl');
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.UntrustedCertificate);
    expect(error.deviceError?.text).to.match(/recovery 1BL: signature untrusted-signer/);
    expect(target.erases).to.equal(0);
    await recover(new MemoryRecoveryRig(target));
    expect(target.written?.images).to.have.length(10);
  });

  it('refuses an untrusted manifest, a wrongly typed runtime and an image that does not match its entry', async () => {
    const foreign = keys.set('23.01', { foreign: true });
    const cases: Array<{ replace: Record<string, Buffer>; step: string; code: number; text: RegExp }> = [
      { replace: { 'recovery.imagemanifest': foreign.files[2]!.bytes }, step: 'manifest', code: RecoveryErrorCode.UntrustedCertificate, text: /recovery manifest: signature untrusted-signer/ },
      { replace: { 'recovery-runtime.bin': set.osImages[3]!.bytes }, step: 'runtime', code: RecoveryErrorCode.BadComponentUid, text: /recovery runtime: component ID/ },
      { replace: { 'recovery-runtime.bin': set.files[2]!.bytes }, step: 'runtime', code: RecoveryErrorCode.BadImageType, text: /image type 26 \(RecoveryManifest\), expected 2 \(PlutonRuntime\)/ },
      {
        replace: { [recoveryImageFileName(set.osImages[5]!.imageId)]: set.osImages[6]!.bytes },
        step: 'images',
        code: RecoveryErrorCode.BadImageFileSize,
        text: /the host offers \d+ bytes, the manifest says \d+/,
      },
    ];
    for (const { replace, step, code, text } of cases) {
      const target = new RecordingTarget(keys.romTrust());
      const error = await expectRecoveryFailure(recover(new MemoryRecoveryRig(target), { images: memorySource(set, replace) }));
      expect(error.step, error.message).to.equal(step);
      expect(error.deviceError?.code, error.message).to.equal(code);
      expect(error.deviceError?.text, error.message).to.match(text);
      expect(target.written).to.equal(undefined);
    }
  });

  it('refuses images below the fuse counters (anti-rollback)', async () => {
    const target = new RecordingTarget(keys.romTrust());
    target.fuseCounters[set.osImages[3]!.componentId] = 5;
    const error = await expectRecoveryFailure(recover(new MemoryRecoveryRig(target)));
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.UnsupportedVersion);
    expect(error.deviceError?.text).to.match(/security version 1 is below the fuse counter 5/);
  });

  it('fails at the line switch when the host does not reopen its port as agreed', async () => {
    const target = new RecordingTarget(keys.romTrust());
    target.hostLine = () => ({ baudRate: 115_200, rtsCts: false, stopBits: 1 });
    const error = await expectRecoveryFailure(recover(new MemoryRecoveryRig(target)));
    expect(error.step).to.equal('line-switch');
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.StreamSyncFailed);
  });

  it('reports a missing image as the device sees it (the host answers ImageRequestError)', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const missing = recoveryImageFileName(set.osImages[4]!.imageId);
    const source = memorySource(set);
    const error = await expectRecoveryFailure(
      recover(new MemoryRecoveryRig(target), { images: { description: 'incomplete', file: (name) => (name === missing ? undefined : source.file(name)) } }),
    );
    expect(error.step).to.equal('images');
    expect(error.deviceError?.code).to.equal(RecoveryErrorCode.ImageNotFound);
  });

  it('aborts on the signal: the device is told (AbortRecovery) and the error is cancelled', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const rig = new MemoryRecoveryRig(target);
    const controller = new AbortController();
    const error = await expectRecoveryFailure(
      recoverBoard({
        line: rig.line,
        images: memorySource(set),
        pins: rig.pins,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.stage === 'images') controller.abort();
        },
      }),
    );
    expect(error.failureClass).to.equal('cancelled');
    expect(error.step).to.equal('images');
    let deviceError: unknown;
    await rig.session!.catch((e: unknown) => (deviceError = e));
    expect((deviceError as Error).name).to.be.oneOf(['HostAbortedRecovery', 'LinkClosedError']);
    expect(target.written).to.equal(undefined);
  });

  it('times out naming the step when the board never enters ROM', async () => {
    const rig = new MemoryRecoveryRig(new RecordingTarget(keys.romTrust()));
    const started = Date.now();
    const error = await expectRecoveryFailure(
      recoverBoard({ line: rig.line, images: memorySource(set), pins: { setRecoveryStrap: async () => undefined, reset: async () => undefined }, timeouts: { romBannerMs: 300 } }),
    );
    expect(error.failureClass).to.equal('timeout');
    expect(error.step).to.equal('rom-banner');
    expect(Date.now() - started).to.be.below(2_000);
  });

  it('names every recovery event code the device sends', () => {
    expect(RecoveryEventCode).to.deep.include({ RAManifestProcessed: 10, RARecoveryComplete: 11 });
  });
});
