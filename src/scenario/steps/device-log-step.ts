import { readDeviceLog } from '../../device/rest/device-log-reader.js';
import type { DeviceLogEntry } from '../../firmware/device-log/device-log-decoder.js';
import type { DeviceLogCapture, DeviceLogRecordEntry } from '../run-record.js';
import { defineStep } from '../step-type.js';
import { pollUntil } from './poll-until.js';
import { restClient } from './rest-steps.js';

/**
 * `collect-device-log`: GET /log over the board's REST API (real or emulated),
 * decoded as Microsoft's parser reads it (device-log-format.md), attached to
 * the run record (its newest entries), optionally checked. The log lives in
 * the board's flash across boots and runs, as on a real device: an expectation
 * may be met by an entry an earlier run caused.
 */
export const MAX_RECORDED_ENTRIES = 2000;

export interface DeviceLogExpectation {
  /** The log category, e.g. `appman_apps`. */
  module: string;
  /** The manifest's message name (e.g. `StartingApp`) or its id. */
  message?: string | number;
  /** A regular expression the parser's line must match (e.g. the app's GUID as the parser prints it). */
  match?: string;
  minCount?: number;
}

export const collectDeviceLogStep = defineStep<{ capability?: string; expect?: DeviceLogExpectation[]; within?: number }>({
  type: 'collect-device-log',
  needsPower: true,
  description:
    "Fetch the board's device log (GET /log, the binary ring of banks), decode it with the OS 24.06 log manifests and attach it to the run record; optionally require entries by module, message and text, asking again until they are there (within)",
  schema: {
    properties: {
      capability: { type: 'string', description: 'artefact of a capability image (AppDevelopment or FieldServicing) sent with the request, as GET /log needs' },
      expect: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['module'],
          properties: {
            module: { type: 'string', minLength: 1 },
            message: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0 }] },
            match: { type: 'string' },
            minCount: { type: 'integer', minimum: 1 },
          },
        },
      },
      within: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ capability, expect, within }, context) => {
    const client = restClient(context, capability ? context.run.artefact(capability).images[0] : undefined);
    const wanted = (expect ?? []).map((e) => ({ ...e, pattern: e.match === undefined ? undefined : new RegExp(e.match) }));
    const counted = (entries: DeviceLogEntry[]) =>
      wanted.map((e) => ({
        wanted: e,
        count: entries.filter(
          (entry) =>
            entry.categoryName === e.module &&
            (e.message === undefined || entry.messageName === e.message || entry.messageId === e.message) &&
            (!e.pattern || e.pattern.test(entry.line)),
        ).length,
      }));
    try {
      const reading = await pollUntil(
        () => readDeviceLog(client, { signal: context.signal, timeoutMs: context.remainingMs() }),
        ({ log }) => counted(log.entries).every(({ wanted: e, count }) => count >= (e.minCount ?? 1)),
        { withinMs: within ?? 0, signal: context.signal },
      );
      context.run.deviceLogs.push(captureOf(reading.bytes.length, reading.log.entries, reading.log.problems));
      context.measure('device log entries', reading.log.entries.length);
      for (const { wanted: e, count } of counted(reading.log.entries)) {
        context.measure(`${e.module}${e.message === undefined ? '' : `/${e.message}`}${e.match ? ` ~ ${e.match}` : ''} entries`, count, { min: e.minCount ?? 1 });
      }
    } finally {
      client.close();
    }
  },
});

/** What the run record keeps: the newest entries, each with its parameters by name. */
export function captureOf(bytes: number, entries: readonly DeviceLogEntry[], problems: DeviceLogCapture['problems']): DeviceLogCapture {
  const kept = entries.slice(-MAX_RECORDED_ENTRIES);
  return {
    collectedAt: new Date().toISOString(),
    bytes,
    entryCount: entries.length,
    omitted: entries.length - kept.length,
    problems: problems.slice(0, 100),
    entries: kept.map(recordEntryOf),
  };
}

function recordEntryOf(entry: DeviceLogEntry): DeviceLogRecordEntry {
  const params: DeviceLogRecordEntry['params'] = {};
  for (const param of entry.params) params[param.name] = param.guid ?? param.value;
  return {
    offset: entry.offset,
    timestampMs: entry.timestampMs,
    priority: entry.priorityName,
    module: entry.categoryName,
    messageId: entry.messageId,
    messageName: entry.messageName,
    params,
    line: entry.line,
  };
}
