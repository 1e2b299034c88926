/**
 * The device REST API under load, in one process (emulator host and clients),
 * loopback only, every loop bounded. For one board and for N boards at once:
 *   GET /status                 requests/s and p50/p99 latency
 *   1 MiB PUT /update/stage     uploads/s, MiB/s and p99 (at least two per board): a signed 1 MiB OS image,
 *                               received and verified by the board (signature,
 *                               signer role, space), as a sideload's transfer is
 *   1 MiB OS sideload           stage a whole OS image set of ~1 MiB, install it,
 *                               until the board answers again on the new version
 *                               (one per board: it writes flash and reboots)
 *   node --import tsx bench/rest-api.ts [--boards 50] [--status 4000] [--uploads 40]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeviceRestClient } from '../src/device/rest/device-rest-client.js';
import { buildSignedImage } from '../src/image/image-builder.js';
import { ImageType } from '../src/image/image-types.js';
import { EmulatorHost } from '../src/emulator/emulator-host.js';
import { buildOsImageSet, SYSTEM_COMPONENT_IDS } from '../src/firmware/os-image-set.js';
import { keystoreBodyFor } from '../src/firmware/rig-keystore.js';
import { provisionEmulator } from '../src/emulator/provisioning.js';
import { buildCapabilityImage } from '../src/image/capability-image.js';
import { rawSignerFor } from '../src/pki/raw-signer.js';
import { findSigningRole, loadSigningRoles } from '../src/pki/signing-roles.js';

/** How long a board may take to boot (or reboot after an install) before the bench gives up. */
const BOOT_DEADLINE_MS = 60_000;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const { values } = parseArgs({
  options: { boards: { type: 'string', default: '50' }, status: { type: 'string', default: '4000' }, uploads: { type: 'string', default: '40' } },
});
const manyBoards = Number(values.boards);
const statusRequests = Number(values.status);
const uploads = Number(values.uploads);
const MiB = 1024 * 1024;

interface Figures {
  count: number;
  seconds: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** `total` calls spread over `workers` concurrent loops; per-call latency in ms. */
async function measure(total: number, workers: number, call: (worker: number) => Promise<unknown>): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (next < total) {
        next += 1;
        const t = performance.now();
        await call(worker);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const show = (label: string, f: Figures, extra = '') =>
  console.log(`${label.padEnd(44)} ${(f.count / f.seconds).toFixed(1).padStart(8)}/s   p50 ${f.p50.toFixed(1).padStart(7)} ms   p99 ${f.p99.toFixed(1).padStart(7)} ms${extra}`);

const stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-rest-bench-'));
try {
  const provisionStart = performance.now();
  await provisionEmulator({ stateDir, count: manyBoards });
  console.log(`provisioned ${manyBoards} boards in ${((performance.now() - provisionStart) / 1000).toFixed(1)} s`);
  const roles = await loadSigningRoles(join(stateDir, 'keys'));
  const osSigner = rawSignerFor(findSigningRole(roles, 'os'));
  const capabilitySigner = rawSignerFor(findSigningRole(roles, 'capability'));
  // One security version for every OS image the bench sends. Boards keep their state (and fuses) in
  // stateDir from the 1-board round to the N-board round: once a sideload of version SECURITY_VERSION
  // commits, the kernel component's fuse counter is SECURITY_VERSION, and a staged kernel below it
  // (no RV section counts as 0) is refused as a rollback (7340056, device-behaviour.md "Anti-rollback").
  const SECURITY_VERSION = 2;
  const kernel = buildSignedImage(
    Buffer.alloc(MiB - 256, 0x5a),
    { imageType: ImageType.NormalWorldKernel, componentId: SYSTEM_COMPONENT_IDS[ImageType.NormalWorldKernel]!, name: 'NormalWorldKernel', securityVersion: SECURITY_VERSION },
    osSigner,
  );
  // Default bodies total ~51 KiB; twenty times that is ~1 MiB. Each round installs a new version,
  // so "answers on the new version" proves the reboot happened.
  let round = 0;
  const nextOsSet = (): { version: string; images: Buffer[] } => {
    const version = `23.${++round}`;
    return { version, images: buildOsImageSet({ osVersion: version, securityVersion: SECURITY_VERSION, keystorePem: keystoreBodyFor(roles, true), bodyScale: 20 }, osSigner).map((i) => i.bytes) };
  };
  const osSetBytes = nextOsSet().images.reduce((sum, b) => sum + b.length, 0);

  for (const boards of [1, manyBoards]) {
    const host = await EmulatorHost.start({ stateDir, boards, powerOn: false });
    try {
      const ready = host.boards.map(({ board }) => withDeadline(new Promise<void>((resolve) => board.on('state', (s) => s === 'ready' && resolve())), BOOT_DEADLINE_MS, 'boards ready'));
      for (const { board } of host.boards) {
        // Commit quickly so that the OS sideload round is not dominated by the health window.
        board.timings.healthWindowMs = 20;
        await board.powerOn();
      }
      await Promise.all(ready);
      const surfaces = host.surfaces();
      const clients = surfaces.map(
        (s) =>
          new DeviceRestClient({
            baseUrl: String(s.restUrl),
            caPem: readFileSync(String(s.restCa)),
            capabilityImage: buildCapabilityImage({ deviceId: s.deviceId, capabilities: [11] }, capabilitySigner),
            timeoutMs: 60_000,
          }),
      );
      console.log(`\n${boards} board(s)`);
      const workers = Math.max(8, boards);
      show(`  GET /status (${workers} concurrent)`, await measure(statusRequests, workers, (w) => clients[w % boards]!.status()));
      const staged = await measure(Math.max(uploads, 2 * boards), Math.max(4, boards), (w) => clients[w % boards]!.stageImage(kernel));
      show(`  1 MiB PUT /update/stage (${Math.max(4, boards)} concurrent)`, staged, `   ${((staged.count * kernel.length) / MiB / staged.seconds).toFixed(1)} MiB/s`);
      const sideloads = await measure(boards === 1 ? 5 : boards, boards, async (w) => {
        const client = clients[w % boards]!;
        const set = nextOsSet();
        await client.sideload(set.images);
        // Until the board is back, on the new set; a board that never comes back ends the bench with its last answer.
        const deadline = Date.now() + BOOT_DEADLINE_MS;
        let last: unknown;
        while (Date.now() < deadline) {
          try {
            last = await client.osVersion({ timeoutMs: 2_000 });
            if (last === set.version) return;
          } catch (error) {
            last = error; // rebooting
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        throw new Error(`the board was not back on OS ${set.version} within ${BOOT_DEADLINE_MS} ms (last: ${last instanceof Error ? last.message : String(last)})`);
      });
      show(`  ${(osSetBytes / MiB).toFixed(2)} MiB OS sideload, install, reboot`, sideloads);
      for (const client of clients) client.close();
    } finally {
      await host.close();
    }
  }
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
