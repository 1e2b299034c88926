/**
 * Attestations per second of the local DAA service with 100 concurrent devices:
 * session + evidence + appraisal + issuing, in-process (no HTTP), against a
 * SQLite state file. Prints p50/p99 latency (session request to result) and the
 * ratio to the raw crypto ceiling measured in the same run: one ECDSA P-256
 * verify plus one sign per attestation, back to back on one thread. Target:
 * ratio >= 0.5. The devices' own work (fresh key, signing the evidence) runs in
 * a worker thread, as it would on the devices themselves.
 *   node --import tsx bench/daa.ts [--devices 100] [--seconds 5] [--http]
 * With --http the devices talk to the service over loopback HTTP instead.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { startDaaServer } from '../src/daa/daa-server.js';
import { DaaService } from '../src/daa/daa-service.js';
import type { AttestationResult, SessionGrant } from '../src/daa/protocol.js';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '100' }, seconds: { type: 'string', default: '5' }, http: { type: 'boolean', default: false } } });
const deviceCount = Number(values.devices);
const seconds = Number(values.seconds);

function cryptoCeiling(): number {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const data = Buffer.alloc(700, 7);
  const signature = sign('sha256', data, { key: keys.privateKey, dsaEncoding: 'ieee-p1363' });
  const rounds = 3000;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    verify('sha256', data, { key: keys.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    sign('sha256', data, keys.privateKey);
  }
  return rounds / ((performance.now() - start) / 1000);
}

const stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-bench-daa-'));
const service = await DaaService.open({ stateDir });
try {
  const tenant = await service.createTenant({ name: 'bench' });
  const componentId = '5e8c0c1e-0009-4a61-9d4b-000000000009';
  const imageSha256 = 'ab'.repeat(32);
  service.setReferenceValues(tenant.id, { components: [{ componentId, required: true, minimumSecurityVersion: 1, trustedImageHashes: [imageSha256] }] });

  // Worker threads do not inherit tsx's loader: the worker registers it, then loads the device code.
  const devicesModule = new URL('./daa-devices.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(devicesModule)}); });`, {
    eval: true,
    workerData: { deviceCount, tenant: tenant.id, componentId, imageSha256 },
  });
  const deviceIds = await new Promise<string[]>((resolve) => worker.once('message', resolve));
  for (const id of deviceIds) service.claimDevice(tenant.id, id);

  const server = values.http ? await startDaaServer({ service }) : undefined;
  const call = async (message: { kind: 'session'; deviceId: string } | { kind: 'evidence'; sessionId: string; evidence: string }): Promise<SessionGrant | AttestationResult> => {
    if (!server) return message.kind === 'session' ? service.createSession({ deviceId: message.deviceId }) : service.submitEvidence(message.sessionId, { kind: 'json', value: { evidence: message.evidence } });
    const path = message.kind === 'session' ? '/sessions' : `/sessions/${message.sessionId}/evidence`;
    const body = message.kind === 'session' ? { deviceId: message.deviceId } : { evidence: message.evidence };
    const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await response.json()) as SessionGrant | AttestationResult;
  };
  worker.on('message', (message: { id?: number; request?: Parameters<typeof call>[0] }) => {
    if (message.id === undefined || !message.request) return;
    void call(message.request).then((answer) => worker.postMessage({ id: message.id, answer }));
  });

  const ceiling = cryptoCeiling();
  worker.postMessage({ start: true, seconds });
  const report = await new Promise<{ count: number; refused: number; elapsedS: number; p50: number; p99: number }>((resolve) =>
    worker.on('message', (message: { report?: typeof resolve extends (v: infer V) => void ? V : never }) => message.report && resolve(message.report)),
  );
  await worker.terminate();
  await server?.close();
  const rate = report.count / report.elapsedS;
  console.log(`devices              ${deviceCount} concurrent, ${values.http ? 'over loopback HTTP' : 'in-process'}`);
  console.log(`attestations         ${report.count} affirming, ${report.refused} refused in ${report.elapsedS.toFixed(2)} s`);
  console.log(`throughput           ${rate.toFixed(0)} attestations/s`);
  console.log(`latency              p50 ${report.p50.toFixed(2)} ms, p99 ${report.p99.toFixed(2)} ms`);
  console.log(`crypto ceiling       ${ceiling.toFixed(0)} /s (one ECDSA P-256 verify + one sign)`);
  console.log(`ratio                ${(rate / ceiling).toFixed(2)} (target >= 0.5)`);
} finally {
  service.close();
  rmSync(stateDir, { recursive: true, force: true });
}
