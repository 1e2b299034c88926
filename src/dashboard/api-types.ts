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
  error?: string;
}

export interface ScenarioInfo {
  name: string;
  description: string;
  tags: string[];
  params: Record<string, unknown>;
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
  'run.queued': { runId: string; scenario: string; boardId: string; requestedBy?: string | null };
  'run.started': { runId: string; scenario: string; boardId: string };
  'run.ended': { runId: string; scenario: string; boardId: string; verdict: Verdict; reason: string | null };
  'step.started': { runId: string; index: number; name: string; type: string; attempt?: number };
  'step.progress': { runId: string; index: number; name: string; message: string };
  'step.ended': { runId: string; index: number; name: string; verdict: Verdict; durationMs: number | null; message: string | null; errorCode: string | null };
  measurement: { runId: string; stepIndex: number; measurement: Measurement };
  'console.line': { boardId: string; uart?: string; runId?: string | null; line: ConsoleLine };
  system: { level: 'info' | 'warn' | 'error'; message: string; details?: Record<string, unknown> };
}

/** The error-report document collected from a board (README, "Error reports"). */
export interface ErrorReportDocument {
  format?: string;
  deviceId?: string;
  events?: Array<{ category?: string; eventClass?: string; eventType?: string; description?: string; count?: number; startTime?: string; endTime?: string }>;
}
