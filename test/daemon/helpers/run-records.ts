import type { RunRecord, StepRecord } from '../../../src/scenario/run-record.js';
import type { Verdict } from '../../../src/scenario/verdict.js';

/** A finished step with one measurement. */
export function step(index: number, verdict: Verdict | null, overrides: Partial<StepRecord> = {}): StepRecord {
  return {
    index,
    name: `step ${index}`,
    type: 'expect-console',
    phase: 'main',
    status: verdict === null ? 'pending' : 'finished',
    verdict,
    startedAt: verdict === null ? null : '2025-03-01T10:00:00.000Z',
    endedAt: verdict === null ? null : '2025-03-01T10:00:01.250Z',
    durationMs: verdict === null ? null : 1250,
    attempts: verdict === null ? 0 : 1,
    message: verdict === 'passed' || verdict === null ? null : `step ${index} ended ${verdict}`,
    errorCode: verdict === 'passed' || verdict === null ? null : `code-${verdict}`,
    measurements: [{ name: 'boot-ms', value: 812, unit: 'ms', limits: { max: 2000 }, passed: true, at: '2025-03-01T10:00:01.000Z' }],
    matchedConsoleLines: [2],
    ...overrides,
  };
}

/** A run record with `stepCount` steps and `consoleCount` console lines. */
export function runRecord(id: string, overrides: Partial<RunRecord> = {}, stepCount = 3, consoleCount = 5): RunRecord {
  return {
    id,
    kind: 'scenario',
    scenario: 'boot-smoke',
    scenarioDigest: 'sha256:' + 'ab'.repeat(32),
    boardId: 'board-01',
    params: { osVersion: '24.10' },
    requestedBy: 'ci',
    status: 'finished',
    verdict: 'passed',
    reason: null,
    queuedAt: '2025-03-01T10:00:00.000Z',
    startedAt: '2025-03-01T10:00:00.100Z',
    endedAt: '2025-03-01T10:00:05.000Z',
    steps: Array.from({ length: stepCount }, (_, i) => step(i, 'passed')),
    provenance: {
      daemonVersion: '0.1.0',
      emulatorVersion: '0.1.0',
      board: { id: 'board-01', driver: 'emulated', deviceId: 'ab'.repeat(64), usbSerial: null },
      osVersionBefore: '24.07',
      osVersionAfter: '24.10',
      artefacts: [{ name: 'app.imagepackage', digest: 'sha256:' + 'cd'.repeat(32), bytes: 4096, kind: 'image', signer: 'CN=sphere-rig development-app', signerThumbprint: '1f'.repeat(20) }],
    },
    console: Array.from({ length: consoleCount }, (_, i) => ({ seq: i + 1, timestamp: 1_740_823_200_000 + i, text: `console line ${i + 1}` })),
    errorReports: [{ category: 'AppCrash', count: 1 }],
    ...overrides,
  };
}
