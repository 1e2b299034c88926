/**
 * The JSON the daemon's public API and event stream send (docs/daemon-api.yaml,
 * src/daemon/stream-protocol.ts), written out again on purpose: the dashboard
 * depends on the documented wire format, never on the daemon's modules.
 * test/dashboard/api-types-contract.ts checks, at type-check time, that what
 * the daemon's own types say it sends still fits these.
 */
export type Verdict = 'passed' | 'test-failed' | 'device-fault' | 'infra-error' | 'timeout' | 'cancelled' | 'not-applicable';
export const VERDICTS: readonly Verdict[] = ['passed', 'test-failed', 'device-fault', 'infra-error', 'timeout', 'cancelled', 'not-applicable'];

export type BoardState = 'unknown' | 'off' | 'rom-recovery' | 'booting' | 'ready' | 'hung' | 'broken' | 'offline';
export type Role = 'viewer' | 'operator' | 'admin';
export type RunStatus = 'queued' | 'running' | 'finished';
export type BoardAction = 'power-on' | 'power-off' | 'power-cycle' | 'reset';
/** Whether a board may take runs, beside its state: checked good, not checked yet, failed its check, or taken out by an operator. */
export type HealthStatus = 'good' | 'unknown' | 'bad' | 'maintenance' | 'retired';
export const HEALTH_STATUSES: readonly HealthStatus[] = ['good', 'unknown', 'bad', 'maintenance', 'retired'];
/** Health checks are ordinary runs, recorded with their own kind. */
export type RunKind = 'scenario' | 'health-check';

export interface Whoami {
  name: string;
  role: Role;
}

export interface BoardApp {
  componentId: string;
  imageId?: string;
  name?: string;
  state: string;
  trial?: boolean;
}

export interface DeviceAuthStatus {
  ready?: boolean;
  /** ms since the epoch */
  expiresAt?: number | null;
  lastAttemptAt?: number | null;
  lastError?: string | null;
}

export interface BoardAttestation {
  configured?: boolean;
  deviceAuth?: DeviceAuthStatus | null;
  lastOutcome?: { verdict?: string; at?: string; reasons?: Array<{ code: string; detail?: string }> } | null;
}

export interface BoardLease {
  holder: string;
  kind: string;
  expiresAt: string | null;
}

export interface BoardHealth {
  status: HealthStatus;
  /** Why, e.g. "health check failed: services up: timed out after 60000 ms". */
  reason: string | null;
  /** ISO time of the last change. */
  since: string;
  /** A health-check run is queued or running for the board. */
  checking: boolean;
  lastCheck: { runId: string; verdict: Verdict; endedAt: string } | null;
}

/** The board's last finished run of kind "scenario". */
export interface BoardLastRun {
  id: string;
  scenario: string;
  verdict: Verdict;
  reason: string | null;
  endedAt: string;
}

export interface Board {
  id: string;
  driver: 'emulated' | 'mt3620';
  state: BoardState;
  deviceId: string | null;
  usbSerial: string | null;
  tags: string[];
  tenant: string | null;
  osVersion: string | null;
  apps: BoardApp[];
  attestation: BoardAttestation | null;
  lease: BoardLease | null;
  runningRun: { id: string; scenario: string } | null;
  queuedRuns: number;
  health: BoardHealth;
  lastRun: BoardLastRun | null;
  /** Why queued runs of this board do not start ("board in maintenance"), null when none wait. */
  waiting: string | null;
  /** Reading the board's state failed (board.info()). */
  error?: string;
  /** Why the rig cannot reach the board (offline boards). */
  offlineReason?: string;
}

export type ParamValue = string | number | boolean;

/** A parameter a scenario declares; a run may set it (the daemon coerces strings to `type`). */
export interface ScenarioParamDeclaration {
  type: 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  required: boolean;
  default?: ParamValue;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  enum?: ParamValue[];
}

export interface ScenarioInfo {
  name: string;
  description: string;
  tags: string[];
  params: Record<string, ScenarioParamDeclaration>;
  digest: string;
  steps: Array<{ type: string; name: string }>;
}

export interface Measurement {
  name: string;
  value: number | string | boolean;
  unit?: string;
  limits?: { min?: number; max?: number; equals?: number | string | boolean };
  passed: boolean;
  at: string;
}

export interface StepRecord {
  index: number;
  name: string;
  type: string;
  phase: 'setup' | 'main' | 'teardown';
  status: 'pending' | 'running' | 'finished' | 'skipped';
  verdict: Verdict | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempts: number;
  message: string | null;
  errorCode: string | null;
  measurements: Measurement[];
  matchedConsoleLines: number[];
}

export interface Artefact {
  name: string;
  digest: string;
  bytes: number;
  kind: string;
  signer?: string | null;
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

export interface ConsoleLine {
  seq: number;
  /** ms since the epoch, when the host received the line */
  timestamp: number;
  text: string;
  /** The board output it came from: recovery-uart, debug-uart, app-output, app-uart:NAME, or emulator-trace (emulator only). */
  channel?: string;
}

export interface RunSummary {
  id: string;
  scenario: string;
  scenarioDigest?: string;
  boardId: string;
  params?: Record<string, unknown>;
  requestedBy?: string | null;
  status: RunStatus;
  verdict: Verdict | null;
  reason: string | null;
  queuedAt?: string;
  startedAt: string | null;
  endedAt: string | null;
  provenance?: Provenance | null;
  stepCount?: number;
  /** Absent only where the page learnt of a run from an event that does not say (then: unknown, shown as a scenario run). */
  kind?: RunKind;
  /** A queued run: why it has not started. */
  waiting?: string | null;
}

export interface RunRecord extends RunSummary {
  steps: StepRecord[];
  console: ConsoleLine[];
  errorReports: unknown[];
}

export interface RunPage {
  runs: RunSummary[];
  total: number;
}

/** One event of the stream; `type` says which payload it carries. */
export interface StreamEvent {
  seq: number;
  topic: string;
  type: string;
  time: string;
  payload: Record<string, unknown>;
}

export interface EventPayloads {
  'board.state': { boardId: string; from: string | null; to: BoardState; reason?: string | null };
  'run.queued': { runId: string; scenario: string; boardId: string; requestedBy?: string | null; kind?: RunKind };
  'run.started': { runId: string; scenario: string; boardId: string };
  'run.ended': { runId: string; scenario: string; boardId: string; verdict: Verdict; reason: string | null };
  'step.started': { runId: string; index: number; name: string; type: string; attempt?: number };
  'step.progress': { runId: string; index: number; name: string; message: string };
  'step.ended': { runId: string; index: number; name: string; verdict: Verdict; durationMs: number | null; message: string | null; errorCode: string | null };
  measurement: { runId: string; stepIndex: number; measurement: Measurement };
  'console.line': { boardId: string; uart?: string; runId?: string | null; line: ConsoleLine };
  system: { level: 'info' | 'warn' | 'error'; message: string; details?: Record<string, unknown> };
  /** `checking`: whether a health check is pending now (absent: unchanged). */
  'board.health': { boardId: string; from: HealthStatus | null; to: HealthStatus; reason: string | null; checking?: boolean };
  'run.waiting': { runId: string; boardId: string; reason: string };
}

/** The error-report document collected from a board (README, "Error reports"). */
export interface ErrorReportDocument {
  format?: string;
  deviceId?: string;
  events?: Array<{ category?: string; eventClass?: string; eventType?: string; description?: string; count?: number; startTime?: string; endTime?: string }>;
}
