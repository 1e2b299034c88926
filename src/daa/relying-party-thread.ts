import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { componentLogger } from '../util/logger.js';
import { startModuleWorker } from '../util/module-worker.js';
import { DaaError } from './daa-error.js';
import type { DaaService } from './daa-service.js';
import type { AuthorityRecord } from './local-pki.js';
import type { RelyingPartyRequest, RelyingPartyVerdict } from './relying-party.js';
import type { DeviceRecord } from './tenant-registry.js';

/**
 * The relying-party check (relying-party.ts) on a thread of its own, for the
 * HTTP route anyone may call: parsing the certificates a caller sends and
 * checking their signatures costs milliseconds each (the x509 parser is
 * JavaScript), which on the event loop would stall the daemon's API, stream and
 * attestations. The thread runs `checkPresentedChain` unchanged; what it needs
 * of the service's state (its CAs, a device, an authority) it asks this thread
 * for, synchronously (a lookup blocks the check's thread, never this one), and
 * this thread answers from the service without parsing anything the caller
 * sent.
 *
 * One check runs at a time; a few more may wait, and beyond those a check is
 * refused (503 `verify-busy`, Retry-After) instead of queued without bound. The
 * thread starts with the first check and stops after a while idle.
 *
 * One answer is not the service's own lookup: whether the leaf's serial is
 * revoked. The service revokes certificates only by revoking their device (all
 * of the device's certificates at once, and a revoked device is never issued
 * another), so for a certificate it issued, "revoked" is "its device is
 * revoked", which is what is answered here. A certificate it did not issue (one
 * copying a revoked serial) is refused for its signature or issuer either way.
 */
export interface RelyingPartyThreadOptions {
  /** Checks that may wait while one runs; more are refused with 503. Default 8. */
  maxWaiting?: number;
  /** A check running longer is abandoned (the thread restarted) with 503; default 15 s. */
  timeoutMs?: number;
  /** The thread stops after this long without work; default 30 s. */
  idleMs?: number;
}

/** A certificate the service trusts, named by its SHA-1 thumbprint (the thread keeps them parsed). */
export type CertificateList = string[];

/** What the check's thread may ask; each answers with its `value`. */
export type Lookup =
  | { kind: 'anchors'; args: [] }
  | { kind: 'intermediates'; args: [] }
  | { kind: 'certificates'; args: [thumbprints: string[]] }
  | { kind: 'authorityByThumbprint'; args: [thumbprint: string] }
  | { kind: 'certificateRevoked'; args: [serialNumber: string, leafDeviceId: string | null] }
  | { kind: 'findDevice'; args: [deviceId: string] };

export interface LookupValues {
  anchors: CertificateList;
  intermediates: CertificateList;
  certificates: Array<{ thumbprint: string; der: Uint8Array }>;
  authorityByThumbprint: AuthorityRecord | undefined;
  certificateRevoked: boolean;
  findDevice: DeviceRecord | undefined;
}

export type LookupRequest = Lookup & { id: number };
export type LookupAnswer = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

export type ThreadRequest = { kind: 'check'; id: number; request: RelyingPartyRequest };
export type ThreadReply =
  | { kind: 'ready' }
  | { kind: 'verdict'; id: number; verdict: RelyingPartyVerdict }
  | { kind: 'failed'; id: number; message: string };

export interface RelyingPartyWorkerData {
  lookups: MessagePort;
  /** An Int32Array's buffer: its counter moves each time a lookup is answered. */
  answered: SharedArrayBuffer;
}

interface Job {
  id: number;
  request: RelyingPartyRequest;
  resolve: (verdict: RelyingPartyVerdict) => void;
  reject: (error: unknown) => void;
}

interface Running {
  worker: Worker;
  lookups: MessagePort;
  ready: boolean;
}

const log = componentLogger('daa');
const RETRY_AFTER_SECONDS = 1;

export class RelyingPartyThread {
  readonly #service: DaaService;
  readonly #maxWaiting: number;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #waiting: Job[] = [];
  #current: { job: Job; timer: NodeJS.Timeout; thread: Running } | undefined;
  #thread: Running | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;

  constructor(service: DaaService, options: RelyingPartyThreadOptions = {}) {
    this.#service = service;
    this.#maxWaiting = options.maxWaiting ?? 8;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#idleMs = options.idleMs ?? 30_000;
  }

  /** The verdict on a presented chain; a DaaError 503 when too many checks are waiting. */
  check(request: RelyingPartyRequest): Promise<RelyingPartyVerdict> {
    if (this.#closed) return Promise.reject(new DaaError('service-closing', 503, 'the DAA service is shutting down'));
    if (this.#waiting.length + (this.#current ? 1 : 0) > this.#maxWaiting) {
      return Promise.reject(
        new DaaError('verify-busy', 503, `${this.#maxWaiting + 1} relying-party checks are already running or waiting; try again in ${RETRY_AFTER_SECONDS} s`, {
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        }),
      );
    }
    return new Promise<RelyingPartyVerdict>((resolve, reject) => {
      this.#waiting.push({ id: this.#nextId++, request, resolve, reject });
      this.#next();
    });
  }

  /** Refuses the checks still waiting and stops the thread. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const closing = new DaaError('service-closing', 503, 'the DAA service is shutting down');
    for (const job of this.#waiting.splice(0)) job.reject(closing);
    if (this.#current) this.#settle(this.#current.job.id, (job) => job.reject(closing));
    await this.#stop();
  }

  #next(): void {
    if (this.#current || this.#closed) return;
    const job = this.#waiting[0];
    if (!job) {
      this.#idleTimer ??= setTimeout(() => void this.#stop(), this.#idleMs).unref();
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const thread = (this.#thread ??= this.#start());
    if (!thread.ready) return;
    this.#waiting.shift();
    const timer = setTimeout(() => {
      // The thread may be stuck in that check: a new one takes the next.
      void this.#stop();
      this.#settle(job.id, (j) => j.reject(new DaaError('verify-timeout', 503, `the relying-party check took longer than ${this.#timeoutMs} ms and was abandoned`)));
    }, this.#timeoutMs);
    this.#current = { job, timer, thread };
    thread.worker.ref();
    thread.worker.postMessage({ kind: 'check', id: job.id, request: job.request } satisfies ThreadRequest);
  }

  /** Ends the current job (if it is `id`) and moves on. */
  #settle(id: number, end: (job: Job) => void): void {
    const current = this.#current;
    if (!current || current.job.id !== id) return;
    clearTimeout(current.timer);
    this.#current = undefined;
    current.thread.worker.unref();
    end(current.job);
    queueMicrotask(() => this.#next());
  }

  #start(): Running {
    const module = new URL(`./relying-party-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
    const channel = new MessageChannel();
    const answered = new SharedArrayBuffer(4);
    const counter = new Int32Array(answered);
    const worker = startModuleWorker(module, {
      workerData: { lookups: channel.port2, answered } satisfies RelyingPartyWorkerData,
      transferList: [channel.port2],
    });
    const running: Running = { worker, lookups: channel.port1, ready: false };
    const answer = this.#lookups();
    channel.port1.on('message', (request: LookupRequest) => {
      let reply: LookupAnswer;
      try {
        reply = { id: request.id, ok: true, value: answer(request) };
      } catch (error) {
        reply = { id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) };
      }
      channel.port1.postMessage(reply);
      Atomics.add(counter, 0, 1);
      Atomics.notify(counter, 0);
    });
    channel.port1.unref();
    worker.unref();
    worker.on('message', (reply: ThreadReply) => {
      if (reply.kind === 'ready') {
        running.ready = true;
        this.#next();
      } else if (reply.kind === 'verdict') this.#settle(reply.id, (job) => job.resolve(reply.verdict));
      else this.#settle(reply.id, (job) => job.reject(new DaaError('verify-failed', 500, `the relying-party check failed: ${reply.message}`)));
    });
    let ended = false;
    // An end this class did not ask for (#stop forgets the thread first).
    const stopped = (why: string) => {
      if (ended) return;
      ended = true;
      channel.port1.close();
      const unexpected = this.#thread === running;
      if (unexpected) this.#thread = undefined;
      if (this.#current?.thread === running) {
        log.error('relying-party thread stopped during a check', { why });
        this.#settle(this.#current.job.id, (job) => job.reject(new DaaError('verify-failed', 500, `the relying-party check's thread stopped: ${why}`)));
      } else if (unexpected && !running.ready && this.#waiting.length > 0) {
        // It never started: refuse what waits rather than start it again and again.
        log.error('relying-party thread did not start', { why });
        const error = new DaaError('verify-failed', 500, `the relying-party check's thread did not start: ${why}`);
        for (const job of this.#waiting.splice(0)) job.reject(error);
      }
    };
    worker.once('error', (error) => stopped(error.message));
    worker.once('exit', (code) => stopped(`exit code ${code}`));
    return running;
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const thread = this.#thread;
    this.#thread = undefined;
    if (!thread) return;
    thread.lookups.close();
    await thread.worker.terminate();
  }

  /** Answers the thread's lookups from the service, as DaaService.verifyPresentedChain's directory does. */
  #lookups(): (request: Lookup) => LookupValues[Lookup['kind']] {
    const { pki, registry } = this.#service;
    const thumbprints = (certificates: Array<{ thumbprintHex: string }>) => certificates.map((c) => c.thumbprintHex);
    return (request) => {
      switch (request.kind) {
        case 'anchors':
          return thumbprints([pki.root().cert]);
        case 'intermediates':
          return thumbprints([pki.intermediate().cert, ...registry.tenants().flatMap((t) => pki.tenantAuthorities(t.id).map((a) => pki.load(a.id).cert))]);
        case 'certificates':
          return request.args[0].map((thumbprint) => {
            const authority = pki.authorityByThumbprint(thumbprint);
            if (!authority) throw new Error(`no authority ${thumbprint}`);
            // A copy of exactly its bytes: a Buffer may be a view on a larger pool.
            return { thumbprint, der: new Uint8Array(pki.load(authority.id).cert.der) };
          });
        case 'authorityByThumbprint':
          return pki.authorityByThumbprint(request.args[0]);
        case 'certificateRevoked': {
          const deviceId = request.args[1];
          return deviceId !== null && registry.findDevice(deviceId)?.revokedAt != null;
        }
        case 'findDevice':
          return registry.findDevice(request.args[0]);
      }
    };
  }
}
