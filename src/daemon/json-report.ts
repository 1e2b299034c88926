import type { RunRecord } from '../scenario/run-record.js';

/**
 * Runs as JSON. One run is its run record exactly (what the API's GET returns);
 * several are wrapped with a format name and version so a consumer can tell a
 * list from a run and notice a change of shape.
 */
export const RUN_LIST_FORMAT = 'sphere-rig/run-records';
export const RUN_LIST_VERSION = 1;

export interface RunListDocument {
  format: typeof RUN_LIST_FORMAT;
  version: typeof RUN_LIST_VERSION;
  runs: RunRecord[];
}

export function runToJson(run: RunRecord, indent = 2): string {
  return `${JSON.stringify(run, null, indent)}\n`;
}

export function runsToJson(runs: readonly RunRecord[], indent = 2): string {
  const document: RunListDocument = { format: RUN_LIST_FORMAT, version: RUN_LIST_VERSION, runs: [...runs] };
  return `${JSON.stringify(document, null, indent)}\n`;
}
