/**
 * The devices of bench/daa.ts, in a worker thread: each loops session ->
 * evidence (fresh key, ES256-signed EAT) -> result, and the latencies are
 * measured here, from asking for a session to holding the result.
 */
import { createPublicKey, sign } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { generateSigningKeyPair, publicKeyToPoint } from '../src/pki/signing-key.js';
import type { AttestationResult, SessionGrant } from '../src/daa/protocol.js';

const { deviceCount, tenant, componentId, imageSha256 } = workerData as { deviceCount: number; tenant: string; componentId: string; imageSha256: string };
const port = parentPort!;
const devices = Array.from({ length: deviceCount }, () => {
  const identity = generateSigningKeyPair();
  return { identity, deviceId: publicKeyToPoint(identity.publicKey).toString('hex') };
});
const pending = new Map<number, (answer: unknown) => void>();
let nextId = 1;
const ask = <T>(request: unknown): Promise<T> =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve as (answer: unknown) => void);
    port.postMessage({ id, request });
  });

const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'eat+jwt' })).toString('base64url');
function evidence(device: (typeof devices)[number], nonce: string): string {
  const key = generateSigningKeyPair();
  const jwk = createPublicKey(key.privateKey).export({ format: 'jwk' });
  const claims = {
    eat_nonce: nonce,
    ueid: device.deviceId,
    bootcount: 1,
    uptime: 10,
    dbgstat: 1,
    oemboot: true,
    measurements: [{ imageType: 10, componentId, imageId: '00000000-0000-4000-a000-000000000001', securityVersion: 1, sha256: imageSha256 }],
    tenant,
    cnf: { jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } },
    iat: Math.floor(Date.now() / 1000),
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: device.identity.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

port.on('message', (message: { id?: number; answer?: unknown; start?: boolean; seconds?: number }) => {
  if (message.id !== undefined) {
    pending.get(message.id)?.(message.answer);
    pending.delete(message.id);
    return;
  }
  if (message.start) void run(message.seconds ?? 5);
});
port.postMessage(devices.map((d) => d.deviceId));

async function run(seconds: number): Promise<void> {
  const latencies: number[] = [];
  let refused = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  await Promise.all(
    devices.map(async (device) => {
      while (performance.now() < until) {
        const begun = performance.now();
        const grant = await ask<SessionGrant>({ kind: 'session', deviceId: device.deviceId });
        const result = await ask<AttestationResult>({ kind: 'evidence', sessionId: grant.sessionId, evidence: evidence(device, grant.nonce) });
        if (result.verdict === 'affirming') latencies.push(performance.now() - begun);
        else refused++;
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  port.postMessage({ report: { count: latencies.length, refused, elapsedS, p50: at(0.5), p99: at(0.99) } });
}
