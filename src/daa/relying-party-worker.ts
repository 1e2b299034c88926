import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Certificate } from '../pki/certificate.js';
import { checkPresentedChain, type RelyingPartyDirectory, type RelyingPartyRequest } from './relying-party.js';
import type { Lookup, LookupAnswer, LookupRequest, LookupValues, RelyingPartyWorkerData, ThreadReply, ThreadRequest } from './relying-party-thread.js';

/**
 * The relying-party check's thread (see relying-party-thread.ts): runs
 * `checkPresentedChain` on each request it is sent, one at a time, and asks
 * the service's thread for the state the check reads, waiting for each answer.
 */
const port = parentPort!;
const { lookups, answered } = workerData as RelyingPartyWorkerData;
const counter = new Int32Array(answered);
/** The service's CA certificates, parsed once: by thumbprint. */
const trusted = new Map<string, Certificate>();
const TRUSTED_KEPT = 10_000;
const LOOKUP_TIMEOUT_MS = 10_000;
let nextLookup = 1;

function lookup<K extends Lookup['kind']>(kind: K, ...args: Extract<Lookup, { kind: K }>['args']): LookupValues[K] {
  const id = nextLookup++;
  const deadline = Date.now() + LOOKUP_TIMEOUT_MS;
  lookups.postMessage({ id, kind, args } as LookupRequest);
  for (;;) {
    // Read the counter before the port: an answer posted in between moves it, and the wait returns at once.
    const seen = Atomics.load(counter, 0);
    for (let message = receiveMessageOnPort(lookups); message; message = receiveMessageOnPort(lookups)) {
      const answer = message.message as LookupAnswer;
      if (answer.id !== id) continue; // the late answer of a lookup that timed out
      if (!answer.ok) throw new Error(`the service could not answer ${kind}: ${answer.message}`);
      return answer.value as LookupValues[K];
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`the service did not answer ${kind} within ${LOOKUP_TIMEOUT_MS} ms`);
    Atomics.wait(counter, 0, seen, left);
  }
}

function certificates(thumbprints: string[]): Certificate[] {
  const missing = thumbprints.filter((thumbprint) => !trusted.has(thumbprint));
  if (missing.length > 0) {
    if (trusted.size + missing.length > TRUSTED_KEPT) trusted.clear();
    for (const { thumbprint, der } of lookup('certificates', missing)) trusted.set(thumbprint, Certificate.fromDer(der, `authority ${thumbprint}`));
  }
  return thumbprints.map((thumbprint) => trusted.get(thumbprint)!);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 #]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** The device ID the leaf names (its CN, 128 hex), read as parseCertificates reads the first certificate; null if none. */
function leafDeviceId(chainPem: string): string | null {
  for (const match of chainPem.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'CERTIFICATE') continue;
    try {
      const cn = Certificate.fromDer(Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64')).commonName ?? '';
      return /^[0-9a-fA-F]{128}$/.test(cn) ? cn.toLowerCase() : null;
    } catch {
      return null;
    }
  }
  return null;
}

function directoryFor(request: RelyingPartyRequest): RelyingPartyDirectory {
  return {
    anchors: () => certificates(lookup('anchors')),
    intermediates: () => certificates(lookup('intermediates')),
    authorityByThumbprint: (thumbprint) => lookup('authorityByThumbprint', thumbprint),
    certificateRevoked: (serialNumber) => lookup('certificateRevoked', serialNumber, leafDeviceId(request.chainPem)),
    findDevice: (deviceId) => lookup('findDevice', deviceId),
  };
}

port.on('message', (message: ThreadRequest) => {
  let reply: ThreadReply;
  try {
    reply = { kind: 'verdict', id: message.id, verdict: checkPresentedChain(message.request, directoryFor(message.request)) };
  } catch (error) {
    reply = { kind: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
port.postMessage({ kind: 'ready' } satisfies ThreadReply);
