import type { Verdict } from './verdict.js';

/**
 * The one serialisable record of a run (after OpenHTF): every output (the run
 * store, JSON and JUnit exports, the dashboard) is made from it.
 */
export type RunStatus = 'queued' | 'running' | 'finished';

/** A health check proves a board may take runs; every other run is a scenario run. */
export type RunKind = 'scenario' | 'health-check';

export interface Measurement {
  name: string;
  value: number | string | boolean;
  unit?: string;
  /** Inclusive limits for numbers; `equals` for anything. */
  limits?: { min?: number; max?: number; equals?: number | string | boolean };
  passed: boolean;
  at: string;
}

export interface StepRecord {
  index: number;
  name: string;
  /** Step type from the library, e.g. `expect-console`. */
  type: string;
  phase: 'setup' | 'main' | 'teardown';
  status: 'pending' | 'running' | 'finished' | 'skipped';
  verdict: Verdict | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempts: number;
  message: string | null;
  /** Stable machine code of the failure, e.g. `console-expect-timeout`. */
  errorCode: string | null;
  measurements: Measurement[];
  /** Console line sequence numbers the step matched (highlighted by the dashboard). */
  matchedConsoleLines: number[];
}

export interface Artefact {
  name: string;
  /** `sha256:<hex>` */
  digest: string;
  bytes: number;
  kind: 'image' | 'capability' | 'recovery-set' | 'certificate' | 'error-report' | 'other';
  /** Subject of the certificate that signed it. */
  signer?: string | null;
  /** SHA-1 thumbprint (hex) of that certificate: what the image's signature section and Azure Sphere's tools name it by. */
  signerThumbprint?: string | null;
}

export interface Provenance {
  daemonVersion: string;
  emulatorVersion: string | null;
  board: { id: string; driver: string; deviceId: string | null; usbSerial: string | null };
  osVersionBefore: string | null;
  osVersionAfter: string | null;
  artefacts: Artefact[];
}

export interface ConsoleExcerptLine {
  seq: number;
  timestamp: number;
  text: string;
  /** The board output it came from (src/device/console-channel.ts); absent in older records. */
  channel?: string;
}

/** One entry of a board's device log, as a run record keeps it. */
export interface DeviceLogRecordEntry {
  /** Byte offset in the log. */
  offset: number;
  /** Milliseconds since the boot that wrote it. */
  timestampMs: number;
  priority: string;
  /** The log category (manifest categoryName), e.g. `appman_apps`. */
  module: string;
  messageId: number;
  /** The manifest's msgName; null for a message the manifests lack. */
  messageName: string | null;
  /** Parameters by name: numbers, text, a uniqueId as the GUID the device wrote (canonical order), a commonError as its code. */
  params: Record<string, number | string | null>;
  /** The entry as Microsoft's parser prints it. */
  line: string;
}

/** A device log collected during a run (`collect-device-log`), decoded; the newest entries only. */
export interface DeviceLogCapture {
  collectedAt: string;
  /** Size of the log the board sent. */
  bytes: number;
  entryCount: number;
  /** Oldest entries left out to keep the record bounded. */
  omitted: number;
  /** Entries the manifests do not know, with their byte offsets. */
  problems: Array<{ offset: number; message: string }>;
  entries: DeviceLogRecordEntry[];
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  scenario: string;
  scenarioDigest: string;
  boardId: string;
  params: Record<string, unknown>;
  requestedBy: string | null;
  status: RunStatus;
  verdict: Verdict | null;
  /** Why the run ended as it did (the first failing step's message, or infra notes). */
  reason: string | null;
  queuedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  steps: StepRecord[];
  provenance: Provenance | null;
  console: ConsoleExcerptLine[];
  errorReports: unknown[];
  /** Device logs collected from the board (absent in records from before they were kept). */
  deviceLog?: DeviceLogCapture[];
}

/** A run record as it is queued: nothing has happened yet. */
export function queuedRunRecord(fields: Pick<RunRecord, 'id' | 'scenario' | 'scenarioDigest' | 'boardId'> & Partial<Pick<RunRecord, 'params' | 'requestedBy' | 'kind'>>): RunRecord {
  return {
    kind: 'scenario',
    params: {},
    requestedBy: null,
    ...fields,
    status: 'queued',
    verdict: null,
    reason: null,
    queuedAt: new Date().toISOString(),
    startedAt: null,
    endedAt: null,
    steps: [],
    provenance: null,
    console: [],
    errorReports: [],
  };
}
