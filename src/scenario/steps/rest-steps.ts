import { DeviceRestClient } from '../../device/rest/device-rest-client.js';
import { RigError } from '../../util/failure.js';
import { defineStep, type StepContext } from '../step-type.js';
import { expectRefusal } from './device-error-of.js';

/**
 * Steps over the device REST API, the way a developer's PC or a factory tool
 * talks to a board: sideload (stage + install), app control, restart. Works on
 * real and emulated boards alike through the board's REST endpoint.
 */
/** A REST client for the run's board; `capability` goes in the AZSPHERE-CAPABILITIES header. */
export function restClient(context: StepContext, capability?: Buffer): DeviceRestClient {
  const endpoint = context.board.restEndpoint();
  if (!endpoint) throw new RigError('not-applicable', 'no-rest-endpoint', `board ${context.board.identity.id} has no REST API endpoint`);
  return new DeviceRestClient({ baseUrl: endpoint.baseUrl, caPem: endpoint.caPem, ...(capability ? { capabilityImage: capability } : {}) });
}

export const sideloadStep = defineStep<{ artefact: string; expectError?: number; capability?: string; appControlMode?: 'Auto' | 'Manual' }>({
  type: 'sideload',
  needsPower: true,
  description: 'Sideload an artefact over the REST API (PUT /update/stage, POST /update/install); with expectError, the device must refuse it with that code',
  schema: {
    required: ['artefact'],
    properties: {
      artefact: { type: 'string' },
      expectError: { type: 'integer', minimum: 1 },
      capability: { type: 'string', description: 'artefact of a capability image sent in the AZSPHERE-CAPABILITIES header' },
      appControlMode: { enum: ['Auto', 'Manual'] },
    },
  },
  defaultTimeoutMs: 120_000,
  run: async (p, context) => {
    const images = context.run.artefact(p.artefact).images;
    const capability = p.capability ? context.run.artefact(p.capability).images[0] : undefined;
    const client = restClient(context, capability);
    try {
      const sideload = () => client.sideload(images, { signal: context.signal, timeoutMs: context.remainingMs(), appControlMode: p.appControlMode });
      if (p.expectError !== undefined) return await expectRefusal(sideload, p.expectError, `sideloading ${p.artefact}`);
      const started = performance.now();
      await sideload();
      context.measure('sideload time', Math.round(performance.now() - started), { unit: 'ms' });
    } finally {
      client.close();
    }
  },
});

export const appControlStep = defineStep<{ componentId: string; action: 'start' | 'start-debug' | 'stop' | 'remove'; expectState?: string; capability?: string; missingOk?: boolean }>({
  type: 'app',
  needsPower: true,
  description:
    "Start, stop or remove an app over the REST API; start-debug starts it in debug mode (needs AppDevelopment), which sends its output to the board's debug output port (console channel app-output); optionally check the state it reports after",
  schema: {
    required: ['componentId', 'action'],
    properties: {
      componentId: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' },
      action: { enum: ['start', 'start-debug', 'stop', 'remove'] },
      expectState: { enum: ['running', 'stopped', 'debugging', 'notPresent'] },
      capability: { type: 'string', description: 'artefact of a capability image sent in the AZSPHERE-CAPABILITIES header' },
      missingOk: { type: 'boolean', description: 'remove: an app that is not on the board is fine (a clean-up before or after a run)' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async (p, context) => {
    const client = restClient(context, p.capability ? context.run.artefact(p.capability).images[0] : undefined);
    const options = { signal: context.signal, timeoutMs: context.remainingMs() };
    try {
      if (p.action === 'remove' && p.missingOk && (await client.appStatus(p.componentId, options)) === 'notPresent') {
        context.note(`app ${p.componentId} is not on the board: nothing to remove`);
        return;
      }
      if (p.action === 'remove') await client.removeApp(p.componentId, options);
      else await client.setAppState(p.componentId, p.action === 'start-debug' ? 'startDebug' : p.action, options);
      if (p.expectState) context.measure(`app ${p.componentId} state`, await client.appStatus(p.componentId, options), { equals: p.expectState });
    } finally {
      client.close();
    }
  },
});

export const restartStep = defineStep<Record<string, never>>({
  type: 'restart',
  needsPower: true,
  description: 'Restart the device through its REST API (POST /restart)',
  schema: { properties: {} },
  defaultTimeoutMs: 30_000,
  run: async (_p, context) => {
    const client = restClient(context);
    try {
      await client.restart({ signal: context.signal, timeoutMs: context.remainingMs() });
    } finally {
      client.close();
    }
  },
});

export const clearErrorReportsStep = defineStep<{ capability?: string }>({
  type: 'clear-error-reports',
  needsPower: true,
  description: "Clear the board's pending error report (DELETE /telemetry, which needs a FieldServicing or AppDevelopment capability: name its artefact), so later checks see only what this run caused",
  schema: { properties: { capability: { type: 'string', description: 'artefact of a capability image sent in the AZSPHERE-CAPABILITIES header' } } },
  defaultTimeoutMs: 30_000,
  run: async (p, context) => {
    const client = restClient(context, p.capability ? context.run.artefact(p.capability).images[0] : undefined);
    try {
      await client.clearTelemetry({ signal: context.signal, timeoutMs: context.remainingMs() });
    } finally {
      client.close();
    }
  },
});
