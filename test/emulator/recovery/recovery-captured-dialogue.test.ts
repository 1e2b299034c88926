import { expect } from 'chai';
import { recoverBoard, type RecoveryResult } from '../../../src/device/recovery-client.js';
import { DEFAULT_ROM_TIMINGS } from '../../../src/emulator/recovery/recovery-rom.js';
import { recoveryImageFileName } from '../../../src/image/recovery-set-layout.js';
import { decodeFrame } from '../../../src/link/recovery-frame.js';
import { RecoveryErrorCode } from '../../../src/link/recovery-error-codes.js';
import { hex } from '../../link/bytes.js';
import { expectRecoveryFailure } from '../../helpers/recovery-failure.js';
import { memorySource, MemoryRecoveryRig, RecordingTarget, RecoveryKeys, WireLog } from './memory-recovery-rig.js';

/**
 * The recovery dialogue as captured from a real board (recovery-protocol.md,
 * "Captured facts" and "Wire-level test vectors"): the device's frames byte by
 * byte on both baud paths, each query sent once however late the host answers,
 * no StatusRequest after the host stays at 115200, the erase taking the time
 * the board says, and refusals carrying Microsoft's catalog codes (category 39).
 * Real bytes between the ROM and the host's recovery client on a memory pair.
 */
describe('recovery dialogue as captured from a real board', function () {
  this.timeout(30_000);
  let keys: RecoveryKeys;
  let set: ReturnType<RecoveryKeys['set']>;

  before(async () => {
    keys = await RecoveryKeys.generate();
    set = keys.set('23.05');
  });

  async function recover(rig: MemoryRecoveryRig, options: Partial<Parameters<typeof recoverBoard>[0]> = {}): Promise<RecoveryResult> {
    try {
      return await recoverBoard({ line: rig.line, images: memorySource(set), pins: rig.pins, timeouts: { romBannerMs: 2_000, messageMs: 5_000 }, ...options });
    } finally {
      rig.stop();
    }
  }

  const u32 = (value: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return b;
  };
  const event = (code: number) => hex(`0b 00 01 00 ${code.toString(16).padStart(2, '0')}`);
  const byName = (name: string, offset: number, maxLength: number) => {
    const data = Buffer.concat([u32(offset), u32(maxLength), Buffer.from(name, 'latin1'), hex('00')]);
    return Buffer.concat([hex('07 00'), Buffer.from([data.length & 0xff, data.length >> 8]), data]);
  };

  /** Every device message of a recovery of `set`, as bytes, in the order of the spec's table. */
  function expectedDeviceMessages(deviceId: string, fast: boolean): Buffer[] {
    const init = Buffer.concat([hex('01 00 85 00 01 00 00 00'), Buffer.from(deviceId, 'latin1'), hex('00')]);
    const total = set.osImages.reduce((sum, image) => sum + image.bytes.length, 0);
    const progress = (imagesRemaining: number, bytesRemaining: number) =>
      Buffer.concat([hex('08 00 10 00'), u32(imagesRemaining), u32(set.osImages.length), u32(bytesRemaining), u32(total)]);
    const messages = [
      init,
      event(1),
      hex('09 00 00 00'), // LogConfigQuery
      hex('04 00 08 00 00 00 00 00 ff ff ff ff'), // ImageRequestCapability
      byName('recovery-runtime.bin', 0, 0xffffffff),
      hex('09 00 00 00'),
      event(6),
      hex('03 00 00 00'), // BaudrateSwitchQuery
      ...(fast ? [hex('02 00 00 00')] : []), // StatusRequest, only at 3 Mbaud
      event(7),
      event(8),
      byName('recovery.imagemanifest', 0, 0xffffffff),
      event(9),
      event(10),
      progress(set.osImages.length, total),
    ];
    let remaining = total;
    for (const [index, entry] of set.manifest.entries.entries()) {
      for (let offset = 0; offset < entry.fileSize; offset += 20_480) messages.push(byName(recoveryImageFileName(entry.imageId), offset, 20_480));
      remaining -= entry.fileSize;
      messages.push(progress(set.osImages.length - index - 1, remaining));
    }
    messages.push(event(11), hex('0d 00 00 00'));
    return messages;
  }

  for (const path of [
    { name: '3,000,000 baud', lowSpeed: false, line: { baudRate: 3_000_000, rtsCts: true } },
    { name: '115200 baud (low speed)', lowSpeed: true, line: { baudRate: 115_200, rtsCts: true } },
  ]) {
    it(`sends the captured frames, byte for byte, on the ${path.name} path`, async () => {
      const target = new RecordingTarget(keys.romTrust());
      const fromHost = new WireLog();
      const fromDevice = new WireLog();
      const rig = new MemoryRecoveryRig(target, { aToB: { intercept: fromHost.record }, bToA: { intercept: fromDevice.record } });
      const result = await recover(rig, { lowSpeed: path.lowSpeed });
      expect(result.line).to.deep.equal(path.line);

      const sent = fromDevice.frames.map((f) => decodeFrame(f.bytes).toString('hex'));
      expect(sent).to.deep.equal(expectedDeviceMessages(target.deviceId, !path.lowSpeed).map((m) => m.toString('hex')));
      // The captured vectors: RecoveryEvent 1 and LogConfigQuery as whole frames, the host's InitializationAck and SimpleQueryAck 0.
      expect(Buffer.concat([fromDevice.frames[1]!.bytes, fromDevice.frames[2]!.bytes]).equals(hex('02 05 02 0b 02 01 04 01 49 b2 00 02 04 02 09 01 01 03 d6 f5 00'))).to.equal(true);
      expect(fromHost.frames[0]!.bytes.equals(hex('02 04 02 a0 01 01 03 d7 ec 00'))).to.equal(true);
      expect(fromHost.frames[1]!.bytes.equals(hex('02 05 02 a3 02 01 01 03 21 8a 00'))).to.equal(true);
      // The host's answer to the baud query (its third SimpleQueryAck): 1 to switch, 0 to stay.
      const baudAnswer = fromHost.frames.filter((f) => f.message.kind === 'SimpleQueryAck')[2]!;
      expect(decodeFrame(baudAnswer.bytes).toString('hex')).to.equal(path.lowSpeed ? 'a300010000' : 'a300010001');
      expect(target.written?.images).to.have.length(10);
    });
  }

  it('sends each query once and waits: a host that answers the baud query after 2 s completes', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const fromDevice = new WireLog();
    let held: Buffer | undefined;
    let heldFor = 0;
    // The device's own answer timeout (10 s), not the short one of the other tests.
    const rig = new MemoryRecoveryRig(target, {
      timings: { answerTimeoutMs: DEFAULT_ROM_TIMINGS.answerTimeoutMs },
      bToA: { intercept: fromDevice.record },
      aToB: {
        intercept: (data) => {
          // The host's first answer after the device's BaudrateSwitchQuery reaches the device 2 s late.
          if (held || fromDevice.kinds().at(-1) !== 'BaudrateSwitchQuery') return undefined;
          held = Buffer.from(data);
          const since = performance.now();
          setTimeout(() => {
            heldFor = performance.now() - since;
            void rig.host.write(held!);
          }, 2_000);
          return null;
        },
      },
    });
    const result = await recover(rig);
    expect(heldFor).to.be.at.least(1_990);
    expect(result.line).to.deep.equal({ baudRate: 3_000_000, rtsCts: true });
    const kinds = fromDevice.kinds();
    expect(kinds.filter((k) => k === 'BaudrateSwitchQuery')).to.have.length(1);
    expect(kinds.filter((k) => k === 'StatusRequest')).to.have.length(1);
    expect(kinds.filter((k) => k === 'LogConfigQuery')).to.have.length(2);
    expect(target.written?.images).to.have.length(10);
  });

  it('the host still completes against the earlier agent that resends its queries', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const fromDevice = new WireLog();
    let held = false;
    const rig = new MemoryRecoveryRig(target, {
      timings: { queryResendMs: 150 },
      bToA: { intercept: fromDevice.record },
      aToB: {
        intercept: (data) => {
          if (held || fromDevice.kinds().at(-1) !== 'BaudrateSwitchQuery') return undefined;
          held = true;
          const late = Buffer.from(data);
          // Released once the device has asked again: the host then answers both.
          const release = setInterval(() => {
            if (fromDevice.kinds().filter((k) => k === 'BaudrateSwitchQuery').length < 2) return;
            clearInterval(release);
            void rig.host.write(late);
          }, 10);
          return null;
        },
      },
    });
    const result = await recover(rig);
    expect(fromDevice.kinds().filter((k) => k === 'BaudrateSwitchQuery').length).to.be.at.least(2);
    expect(result.events).to.deep.equal([1, 6, 7, 8, 9, 10, 11]);
    expect(target.written?.images).to.have.length(10);
  });

  it('lets the erase between RecoveryEvent 7 and 8 take as long as the board says', async () => {
    const target = new RecordingTarget(keys.romTrust());
    target.eraseMs = 600;
    const fromDevice = new WireLog();
    await recover(new MemoryRecoveryRig(target, { bToA: { intercept: fromDevice.record } }));
    const at = (code: number) => fromDevice.frames.find((f) => f.message.kind === 'RecoveryEvent' && f.message.event === code)!.at;
    // Node's timers run on libuv's millisecond loop clock, so a 600 ms wait can read as 599.9 ms on
    // performance.now(): allow that one millisecond, nothing more.
    expect(at(8) - at(7)).to.be.at.least(599);
    expect(target.erases).to.equal(1);
  });

  it('refuses a tampered image with RecoveryError 40894469 (BadSignature); the next recovery with good images succeeds', async () => {
    const target = new RecordingTarget(keys.romTrust());
    const victim = set.osImages[6]!;
    const tampered = Buffer.from(victim.bytes);
    tampered[Math.floor(tampered.length / 3)] ^= 0x01;
    const fromDevice = new WireLog();
    const error = await expectRecoveryFailure(
      recover(new MemoryRecoveryRig(target, { bToA: { intercept: fromDevice.record } }), {
        images: memorySource(set, { [recoveryImageFileName(victim.imageId)]: tampered }),
      }),
    );
    const refusal = fromDevice.frames.at(-1)!;
    expect(decodeFrame(refusal.bytes).subarray(0, 2).toString('hex')).to.equal('0c00');
    expect(decodeFrame(refusal.bytes).subarray(4, 8).toString('hex')).to.equal('05007002'); // 40894469 = 0x02700005
    expect(RecoveryErrorCode.BadSignature).to.equal(40894469);
    expect(error.failureClass).to.equal('device-fault');
    expect(error.step).to.equal('images');
    expect(error.deviceError).to.deep.include({ code: 40894469, name: 'RecoveryError::BadSignature', meaning: 'The digital signature of the image or manifest does not check' });
    expect(error.message).to.include('RecoveryError::BadSignature, code 40894469');
    expect(target.written).to.equal(undefined);

    await recover(new MemoryRecoveryRig(target));
    expect(target.written?.images.map((b) => b.toString('hex'))).to.deep.equal(set.osImages.map((i) => i.bytes.toString('hex')));
  });
});
