import type { FaultSpec } from '../../device/board.js';
import { RigError } from '../../util/failure.js';
import { pollUntil } from './poll-until.js';
import { defineStep } from '../step-type.js';
import { expectRefusal } from './device-error-of.js';

/** Board actions beyond power: OTA installs, faults, time, error reports. */
export const installStep = defineStep<{ artefact: string; expectError?: number }>({
  type: 'install',
  needsPower: true,
  description: 'Deliver an artefact as an over-the-air update (emulated boards); with expectError, the board must refuse it with that code',
  schema: { required: ['artefact'], properties: { artefact: { type: 'string' }, expectError: { type: 'integer', minimum: 1 } } },
  defaultTimeoutMs: 120_000,
  run: async ({ artefact, expectError }, context) => {
    const { images } = context.run.artefact(artefact);
    const install = () => context.board.otaInstall(images, { signal: context.signal, timeoutMs: context.remainingMs() });
    if (expectError !== undefined) return expectRefusal(install, expectError, `installing ${artefact}`);
    const started = performance.now();
    await install();
    context.measure('install time', Math.round(performance.now() - started), { unit: 'ms' });
  },
});

export const faultStep = defineStep<FaultSpec>({
  type: 'fault',
  description: 'Inject a fault or set up a condition (emulated boards): power-cut, hang, corrupt, kill-app, timings, clear-capability...',
  schema: {
    required: ['kind'],
    properties: {
      kind: { enum: ['power-cut', 'disarm-power-cut', 'flash-mark', 'hang', 'corrupt', 'kill-app', 'timings', 'clear-capability'] },
      beforeOperation: { type: 'integer', minimum: 1 },
      stage: { type: ['string', 'null'] },
      onlyInTrial: { type: 'boolean' },
      slot: { enum: ['a', 'b', 'active', 'inactive'] },
      imageType: { type: 'integer', minimum: 0 },
      componentId: { type: 'string' },
      signal: { type: 'integer', minimum: 1, maximum: 64 },
      timings: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async (spec, context) => {
    await context.board.fault(spec, { signal: context.signal, timeoutMs: context.remainingMs() });
  },
});

export const advanceClockStep = defineStep<{ ms: number }>({
  type: 'advance-clock',
  description: "Move the board's clock forward (emulated boards): cross a day in milliseconds",
  schema: { required: ['ms'], properties: { ms: { type: 'integer', minimum: 1 } } },
  defaultTimeoutMs: 30_000,
  run: ({ ms }, context) => context.board.advanceClock(ms, { signal: context.signal, timeoutMs: context.remainingMs() }),
});

interface ReportEvent {
  eventClass: string;
  description: string;
  count: number;
}

export const collectErrorReportsStep = defineStep<{ expect?: Array<{ eventClass: string; match?: string; minCount?: number }>; absent?: string[]; within?: number; capability?: string }>({
  type: 'collect-error-reports',
  needsPower: true,
  description:
    "Fetch the board's pending error report into the run record; optionally require or forbid event classes; with within, fetch again until every expected event is there (a board announces none)",
  schema: {
    properties: {
      expect: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['eventClass'],
          properties: { eventClass: { type: 'string' }, match: { type: 'string' }, minCount: { type: 'integer', minimum: 1 } },
        },
      },
      absent: { type: 'array', items: { type: 'string' } },
      within: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      capability: { type: 'string', description: 'artefact of a capability image (FieldServicing or AppDevelopment) sent with the request, as GET /telemetry needs' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ expect, absent, within, capability }, context) => {
    const capabilityImage = capability ? context.run.artefact(capability).images[0] : undefined;
    const counted = (events: ReportEvent[]) =>
      (expect ?? []).map((wanted) => {
        const pattern = wanted.match ? new RegExp(wanted.match) : undefined;
        const hits = events.filter((e) => e.eventClass === wanted.eventClass && (!pattern || pattern.test(e.description)));
        return { wanted, count: hits.reduce((sum, e) => sum + e.count, 0) };
      });
    const report = await pollUntil(
      async () => (await context.board.errorReport({ signal: context.signal, timeoutMs: context.remainingMs(), ...(capabilityImage ? { capability: capabilityImage } : {}) })) as { events?: ReportEvent[] },
      (answer) => counted(answer.events ?? []).every(({ wanted, count }) => count >= (wanted.minCount ?? 1)),
      { withinMs: within ?? 0, signal: context.signal },
    );
    context.run.errorReports.push(report);
    const events = report.events ?? [];
    for (const { wanted, count } of counted(events)) context.measure(`${wanted.eventClass} events`, count, { min: wanted.minCount ?? 1 });
    for (const eventClass of absent ?? []) {
      const hit = events.find((e) => e.eventClass === eventClass);
      if (hit) throw new RigError('test-failed', 'unexpected-error-report', `error report has ${eventClass}: ${hit.description}`);
    }
  },
});
