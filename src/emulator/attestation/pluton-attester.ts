import type { KeyObject } from 'node:crypto';
import type { Measurement } from '../../daa/protocol.js';
import type { RefusalReason } from '../../daa/refusal-reasons.js';
import { generateSigningKeyPair } from '../../pki/signing-key.js';
import { catalogCode } from '../../util/device-error-catalog.js';
import { componentLogger } from '../../util/logger.js';
import { identityKeyOf } from '../chip.js';
import type { DeviceAuthState, EmulatedBoard } from '../emulated-board.js';
import type { DaaConnection } from './daa-connection.js';
import { buildEvidenceClaims, signEvidence } from './evidence-builder.js';

/** What the device log records for an attestation the service refused, or one that did not reach it. */
const DEVICE_AUTH_REFUSED = catalogCode('DeviceAuthError', 'ServicesRespondedWithError');
const DEVICE_AUTH_REQUEST_FAILED = catalogCode('DeviceAuthError', 'ServicesRequestError');

/**
 * The Pluton role in device authentication: at the first connection after boot
 * (the board reaching 'ready') and then every day of board time, attest to the
 * DAA service and keep the certificate it issues in `board.deviceAuth`. The
 * certificate's lifetime is measured on the board clock from the moment it
 * arrives (the service runs on wall time), so advancing the board clock past it
 * expires it: the board is then not ready until the next attestation succeeds.
 * A refusal clears the certificate; a failure to reach the service keeps a
 * certificate that is still valid. Either retries after `retryMs`.
 */
export interface AttestationOutcome {
  verdict: 'affirming' | 'refused' | 'failed';
  /** Board time of the attempt. */
  at: string;
  reasons?: RefusalReason[];
  error?: string;
  serialNumber?: string;
  tenant?: string;
  /** What the evidence said booted. */
  measurements?: Measurement[];
  deviceAuth: DeviceAuthState;
}

export interface PlutonAttesterOptions {
  /** Board-time interval between attestations; default 24 h. */
  refreshMs?: number;
  /** Board-time delay before retrying after a refusal or failure; default 5 min. */
  retryMs?: number;
}

const DAY_MS = 24 * 3600 * 1000;

export class PlutonAttester {
  readonly #board: EmulatedBoard;
  readonly #connection: DaaConnection;
  readonly #refreshMs: number;
  readonly #retryMs: number;
  readonly #lifetime = new AbortController();
  readonly #log;
  #inFlight: Promise<AttestationOutcome> | undefined;
  #timer: number | undefined;
  #last: AttestationOutcome | undefined;
  /** The private half of the certified key: what an app's TLS client would sign with. Never leaves the board. */
  #certificateKey: KeyObject | undefined;
  readonly #onState = (state: string): void => {
    if (state === 'ready') void this.attestNow();
  };

  constructor(board: EmulatedBoard, connection: DaaConnection, options: PlutonAttesterOptions = {}) {
    this.#board = board;
    this.#connection = connection;
    this.#refreshMs = options.refreshMs ?? DAY_MS;
    this.#retryMs = options.retryMs ?? 5 * 60_000;
    this.#log = componentLogger(`attestation:${board.name}`);
    board.on('state', this.#onState);
  }

  get lastOutcome(): AttestationOutcome | undefined {
    return this.#last;
  }

  get hasCertificateKey(): boolean {
    return this.#certificateKey !== undefined && this.#board.deviceAuth.ready;
  }

  /** Attests now; while one attestation runs, callers share its outcome. */
  attestNow(signal?: AbortSignal): Promise<AttestationOutcome> {
    this.#inFlight ??= this.#attest(signal).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  close(): void {
    this.#lifetime.abort();
    this.#board.off('state', this.#onState);
    this.#board.clock.cancel(this.#timer);
  }

  async #attest(signal?: AbortSignal): Promise<AttestationOutcome> {
    const board = this.#board;
    const at = board.clock.now();
    if (board.state !== 'ready') return this.#outcome({ verdict: 'failed', at, error: `the board is ${board.state}, not ready` });
    const bootCount = board.chip.bootCount;
    const superseded = () => board.chip.bootCount !== bootCount || board.state !== 'ready';
    board.deviceAuth.lastAttemptAt = at;
    this.#board.clock.cancel(this.#timer);
    const abort = AbortSignal.any([this.#lifetime.signal, ...(signal ? [signal] : [])]);
    let measurements: Measurement[] | undefined;
    board.osLog('deviceAuthContacting');
    try {
      const key = generateSigningKeyPair();
      const grant = await this.#connection.openSession(board.deviceId, abort);
      const claims = buildEvidenceClaims({
        nonce: grant.nonce,
        deviceId: board.deviceId,
        tenant: grant.tenant ?? '',
        bootCount,
        uptimeSeconds: board.uptimeSeconds,
        developmentMode: board.capabilities().includes(11),
        images: board.runningImages,
        certificateKey: key.publicKey,
        now: board.clock.now(),
      });
      measurements = claims.measurements;
      const result = await this.#connection.sendEvidence(grant.sessionId, await signEvidence(claims, identityKeyOf(board.chip)), abort);
      if (superseded()) return this.#outcome({ verdict: 'failed', at, error: 'superseded: the board restarted during the attestation' });
      if (result.verdict === 'refused') {
        const codes = result.reasons.map((r) => r.code).join(', ');
        board.deviceAuth = { ready: false, certificatePem: null, chainPem: null, expiresAt: null, lastAttemptAt: at, lastError: `refused: ${codes}` };
        this.#certificateKey = undefined;
        board.emit('console', `[DAA] attestation refused: ${codes}`);
        board.osLog('deviceAuthFailure', DEVICE_AUTH_REFUSED);
        this.#schedule(this.#retryMs);
        return this.#outcome({ verdict: 'refused', at, reasons: result.reasons, measurements });
      }
      const lifetimeMs = Date.parse(result.notAfter) - Date.parse(result.notBefore);
      const expiresAt = board.clock.now() + lifetimeMs;
      board.deviceAuth = { ready: true, certificatePem: result.certificatePem, chainPem: result.chainPem, expiresAt, lastAttemptAt: at, lastError: null };
      this.#certificateKey = key.privateKey;
      board.emit('console', `[DAA] attestation ok: certificate ${result.serialNumber} until ${new Date(expiresAt).toISOString()}`);
      board.osLog('deviceAuthSuccess');
      this.#schedule(Math.min(this.#refreshMs, lifetimeMs));
      return this.#outcome({ verdict: 'affirming', at, serialNumber: result.serialNumber, tenant: result.tenant, measurements });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (superseded()) return this.#outcome({ verdict: 'failed', at, error: `superseded: ${message}` });
      board.deviceAuth.lastError = message;
      this.#log.warn('attestation failed', { error: message });
      board.emit('console', `[DAA] attestation failed: ${message}`);
      board.osLog('deviceAuthFailure', DEVICE_AUTH_REQUEST_FAILED);
      if (!this.#lifetime.signal.aborted) this.#schedule(this.#retryMs);
      return this.#outcome({ verdict: 'failed', at, error: message });
    }
  }

  /** One timer: at the next attestation, or when the certificate expires, whichever is first. */
  #schedule(delayMs: number): void {
    const board = this.#board;
    const bootCount = board.chip.bootCount;
    board.clock.cancel(this.#timer);
    this.#timer = board.clock.setTimer(delayMs, () => {
      this.#timer = undefined;
      if (board.chip.bootCount !== bootCount || this.#lifetime.signal.aborted) return;
      const auth = board.deviceAuth;
      if (auth.ready && auth.expiresAt !== null && board.clock.now() >= auth.expiresAt) {
        board.deviceAuth = { ...auth, ready: false, lastError: 'certificate expired' };
        this.#certificateKey = undefined;
        board.emit('console', '[DAA] certificate expired');
      }
      void this.attestNow();
    });
  }

  #outcome(outcome: Omit<AttestationOutcome, 'deviceAuth' | 'at'> & { at: number }): AttestationOutcome {
    const result: AttestationOutcome = { ...outcome, at: new Date(outcome.at).toISOString(), deviceAuth: { ...this.#board.deviceAuth } };
    this.#last = result;
    return result;
  }
}
