/**
 * Recovers one emulated board from a 5 MiB recovery image set through its real
 * recovery pty, twice:
 *   1. the recovery UART paced at the baud the device runs (115200 for the 1BL
 *      and runtime, 3,000,000 for the images), as under `--speed real`;
 *   2. with no baud limit: the pure protocol time (XMODEM turnarounds, frames).
 * Prints the effective image payload rate and its ratio to the line-rate
 * ceiling at 3,000,000 baud 8N1 (300,000 bytes/s), and to the stop-and-wait
 * ceiling over the same pty: 128 payload bytes per 133 bytes of line time plus
 * the pty round trip of a block and its ACK, measured in the same run (before
 * and after the recoveries). Target: paced rate >= 0.9 of that ceiling. The
 * flash itself runs fast in both, so only the link is measured.
 *   node --import tsx bench/recovery.ts [--mib 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ControlClient } from '../src/device/emulated/control-client.js';
import { EmulatedPins } from '../src/device/emulated/emulated-pins.js';
import { recoverBoard, type RecoveryResult } from '../src/device/recovery-client.js';
import { EmulatorHost } from '../src/emulator/emulator-host.js';
import { keystoreBodyFor } from '../src/firmware/rig-keystore.js';
import { provisionEmulator } from '../src/emulator/provisioning.js';
import { buildRecoveryImageSet, saveRecoveryImageSet } from '../src/firmware/recovery-image-set.js';
import { rawSignerFor } from '../src/pki/raw-signer.js';
import { findSigningRole, loadSigningRoles } from '../src/pki/signing-roles.js';
import { measurePtyRoundTrip, median } from './pty-round-trip.js';

const LINE_CEILING_BYTES_PER_S = 3_000_000 / 10;
const XMODEM_BLOCK_LINE_MS = (133 * 10 * 1000) / 3_000_000;
const ROUND_TRIP_SAMPLES = 300;
/** Sum of the scalable OS image bodies at scale 1 (os-image-set.ts DEFAULT_BODY_BYTES). */
const SCALABLE_BODY_BYTES = 52_224;

const { values } = parseArgs({ options: { mib: { type: 'string', default: '5' } } });
const targetBytes = Number(values.mib) * 1024 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-bench-recovery-'));
try {
  await provisionEmulator({ stateDir, count: 1 });
  const roles = await loadSigningRoles(join(stateDir, 'keys'));
  const signer = rawSignerFor(findSigningRole(roles, 'os'));
  const keystorePem = keystoreBodyFor(roles, true);
  const unit = buildRecoveryImageSet({ osVersion: 'bench', securityVersion: 1, keystorePem }, signer);
  const fixed = unit.osImages.reduce((sum, i) => sum + i.bytes.length, 0) - SCALABLE_BODY_BYTES;
  const bodyScale = (targetBytes - fixed) / SCALABLE_BODY_BYTES;
  const set = buildRecoveryImageSet({ osVersion: 'bench', securityVersion: 1, keystorePem, bodyScale }, signer);
  const imagesDir = join(stateDir, 'recovery-set');
  saveRecoveryImageSet(imagesDir, set);

  const host = await EmulatorHost.start({ stateDir, speed: 'fast' });
  const hosted = host.boards[0]!;
  const control = await ControlClient.connect({ port: hosted.control.port, defaultTimeoutMs: 60_000 });
  try {
    const run = async (timing: 'real' | 'fast'): Promise<RecoveryResult> => {
      hosted.recoveryUart.timing = timing;
      return recoverBoard({ port: hosted.recoveryUart.path, images: imagesDir, pins: new EmulatedPins(control) });
    };
    const roundTrips = await measurePtyRoundTrip(hosted.recoveryUart, ROUND_TRIP_SAMPLES);
    const paced = await run('real');
    const unpaced = await run('fast');
    roundTrips.push(...(await measurePtyRoundTrip(hosted.recoveryUart, ROUND_TRIP_SAMPLES)));
    const roundTripMs = median(roundTrips);
    const stopAndWaitBytesPerS = 128 / ((XMODEM_BLOCK_LINE_MS + roundTripMs) / 1000);
    const rate = (r: RecoveryResult) => r.totalBytes / (r.imagingMs / 1000);
    console.log(`image set            ${set.osImages.length} images, ${paced.totalBytes} bytes (${(paced.totalBytes / 1048576).toFixed(2)} MiB); every file ${paced.xmodemBytes} bytes`);
    console.log(`paced at the baud    whole recovery ${(paced.durationMs / 1000).toFixed(1)} s, images ${(paced.imagingMs / 1000).toFixed(1)} s at 3,000,000 baud`);
    console.log(`  payload rate       ${(rate(paced) / 1000).toFixed(1)} kB/s; ratio to the 300,000 B/s line ceiling ${(rate(paced) / LINE_CEILING_BYTES_PER_S).toFixed(3)}`);
    console.log(`no baud limit        whole recovery ${(unpaced.durationMs / 1000).toFixed(1)} s, images ${(unpaced.imagingMs / 1000).toFixed(1)} s`);
    console.log(`  payload rate       ${(rate(unpaced) / 1000).toFixed(1)} kB/s (pure protocol: XMODEM turnarounds through the ptys)`);
    console.log(
      `stop-and-wait ceiling ${(stopAndWaitBytesPerS / 1000).toFixed(1)} kB/s: 128 bytes per ${XMODEM_BLOCK_LINE_MS.toFixed(3)} ms of line time (133 bytes) + ${roundTripMs.toFixed(3)} ms pty round trip (median of ${roundTrips.length}; p10 ${percentile(roundTrips, 0.1).toFixed(3)}, p90 ${percentile(roundTrips, 0.9).toFixed(3)})`,
    );
    console.log(`  paced / ceiling    ${(rate(paced) / stopAndWaitBytesPerS).toFixed(3)} (target >= 0.9)`);
  } finally {
    await control.close();
    await host.close();
  }
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
