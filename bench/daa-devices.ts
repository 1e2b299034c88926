/**
 * The devices of bench/daa.ts, in a worker thread: each loops session ->
 * evidence (fresh key, ES256-signed EAT) -> result, and the latencies are
 * measured here, from asking for a session to holding the result.
 *
 * On a two-core machine this thread shares the CPU with the service it
 * measures (its service thread and its storage thread), so it does as little
 * as a device honestly must once the run starts:
 * - the key each evidence binds is generated before the run, one per
 *   attestation and never reused (a device generates it on its own chip);
 *   signing the evidence, which needs the session's nonce, happens in the run;
 * - requests and answers cross the thread boundary in one message per event
 *   loop turn or per 16, rather than one each (see daa.ts).
 * Keys come from ECDH key generation (a P-256 scalar and its point), not
 * generateKeyPairSync: Node 20's generateKeyPairSync can deadlock a worker
 * thread (a GC inside it destroys an earlier key-generation job whose
 * destructor waits on a lock the thread holds).
 */
import { createECDH, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { DaaClient } from '../src/daa/daa-client.js';
import type { SessionGrant } from '../src/daa/protocol.js';
import { deviceAnswer, type DeviceAnswer, type DeviceRequest } from './daa-device-messages.js';
import { threadCpuMs } from './daa-thread-cpu.js';


const { deviceCount, tenant, componentId, imageSha256, keysNeeded, serviceUrl } = workerData as {
  /** Set with --http: the devices ask the service over loopback HTTP themselves. */
  serviceUrl?: string;
  deviceCount: number;
  tenant: string;
  componentId: string;
  imageSha256: string;
  keysNeeded: number;
};
const port = parentPort!;

/** A fresh P-256 key: the private scalar and the base64url coordinates of its point. */
function freshKey(): { d: string; x: string; y: string } {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys();
  return { d: ecdh.getPrivateKey().toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
}

const devices = Array.from({ length: deviceCount }, () => {
  const { d, x, y } = freshKey();
  const privateKey: KeyObject = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d, x, y }, format: 'jwk' });
  return { privateKey, deviceId: Buffer.concat([Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]).toString('hex') };
});
/** The certificate keys of the run, each bound by one evidence only; more are made if the run outlasts them. */
const certificateKeys = Array.from({ length: keysNeeded }, () => {
  const { x, y } = freshKey();
  return { kty: 'EC', crv: 'P-256', x, y };
});
const takeCertificateKey = () => certificateKeys.pop() ?? (({ x, y }) => ({ kty: 'EC', crv: 'P-256', x, y }))(freshKey());

const pending = new Map<number, (answer: DeviceAnswer) => void>();
let nextId = 1;
const REQUESTS_PER_MESSAGE = 16;
let outbox: Array<{ id: number; request: DeviceRequest }> = [];
/** With --http: the service's own client, as a device's agent would use (timeouts included). */
const client = serviceUrl ? new DaaClient(serviceUrl, { timeoutMs: 30_000 }) : undefined;

async function askOverHttp(http: DaaClient, request: DeviceRequest): Promise<DeviceAnswer> {
  return request.kind === 'session' ? http.createSession({ deviceId: request.deviceId }) : deviceAnswer(await http.submitEvidence(request.sessionId, request.evidence));
}

const ask = <T extends DeviceAnswer>(request: DeviceRequest): Promise<T> =>
  client ? (askOverHttp(client, request) as Promise<T>) : askThroughParent<T>(request);

const askThroughParent = <T extends DeviceAnswer>(request: DeviceRequest): Promise<T> =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve as (answer: DeviceAnswer) => void);
    if (outbox.length === 0) setImmediate(sendOutbox);
    outbox.push({ id, request });
    // Sooner once a few have gathered: the service should not wait for this thread's whole turn.
    if (outbox.length >= REQUESTS_PER_MESSAGE) sendOutbox();
  });
function sendOutbox(): void {
  if (outbox.length === 0) return;
  port.postMessage({ requests: outbox });
  outbox = [];
}

const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'eat+jwt' })).toString('base64url');
function evidence(device: (typeof devices)[number], nonce: string): string {
  const claims = {
    eat_nonce: nonce,
    ueid: device.deviceId,
    bootcount: 1,
    uptime: 10,
    dbgstat: 1,
    oemboot: true,
    measurements: [{ imageType: 10, componentId, imageId: '00000000-0000-4000-a000-000000000001', securityVersion: 1, sha256: imageSha256 }],
    tenant,
    cnf: { jwk: takeCertificateKey() },
    iat: Math.floor(Date.now() / 1000),
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: device.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

port.on('message', (message: { answers?: Array<{ id: number; answer: DeviceAnswer }>; start?: boolean; seconds?: number }) => {
  for (const { id, answer } of message.answers ?? []) {
    pending.get(id)?.(answer);
    pending.delete(id);
  }
  if (message.start) void run(message.seconds ?? 5);
});
port.postMessage({ deviceIds: devices.map((d) => d.deviceId) });

async function run(seconds: number): Promise<void> {
  const latencies: number[] = [];
  const refusals = new Map<string, number>();
  const start = performance.now();
  const cpuBefore = threadCpuMs();
  const until = start + seconds * 1000;
  await Promise.all(
    devices.map(async (device) => {
      while (performance.now() < until) {
        const begun = performance.now();
        const grant = await ask<SessionGrant>({ kind: 'session', deviceId: device.deviceId });
        const result = await ask<Exclude<DeviceAnswer, SessionGrant>>({ kind: 'evidence', sessionId: grant.sessionId, evidence: evidence(device, grant.nonce) });
        if (result.verdict === 'affirming') latencies.push(performance.now() - begun);
        else for (const code of result.refusals ?? ['?']) refusals.set(code, (refusals.get(code) ?? 0) + 1);
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = threadCpuMs();
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const refused = [...refusals.values()].reduce((a, b) => a + b, 0);
  port.postMessage({ report: { count: latencies.length, refused, refusals: Object.fromEntries(refusals), elapsedS, p50: at(0.5), p99: at(0.99), keysLeft: certificateKeys.length, cpuMs } });
}
