import { RigError } from '../../util/failure.js';
import { BOARD_STATES, type Board, type BoardState } from '../../device/board.js';
import { CONSOLE_CHANNEL_PATTERN, isEmulatorOnly } from '../../device/console-channel.js';
import { defineStep, type StepContext } from '../step-type.js';
import { imageIdOf } from './artefact-steps.js';
import { pollUntil } from './poll-until.js';
import { restClient } from './rest-steps.js';
import { servicesAnswer } from './services-up.js';

const WITHIN = { type: 'integer', minimum: 0, maximum: 3_600_000, description: 'keep asking the board for up to this many ms until the answer is right (default 0: ask once)' } as const;

/** Checks on what the board shows: console lines, state, OS version, apps. */
type Since = 'previous-step' | 'this-step' | 'run';

function sinceMark(context: StepContext, since: Since | undefined): number {
  const marks = context.run.stepConsoleMarks;
  switch (since ?? 'previous-step') {
    case 'run':
      return context.run.runConsoleMark;
    case 'this-step':
      return marks.at(-1) ?? context.run.runConsoleMark;
    default:
      // The previous step is usually the action that makes the line appear.
      return marks.at(-2) ?? context.run.runConsoleMark;
  }
}

/**
 * The channels a step looks at: the one it names, or every channel the board
 * has that a real board has too. The emulator-only trace is never looked at
 * unless asked for, and asking for it on a board without it is not-applicable.
 */
function channelsFor(board: Board, channel: string | undefined): string[] | undefined {
  const available = board.console.channels?.();
  if (!available) return undefined; // one untagged port: every line is from it
  if (channel === undefined) return available.filter((c) => !isEmulatorOnly(c));
  if (!available.includes(channel)) {
    if (isEmulatorOnly(channel)) {
      throw new RigError('not-applicable', 'not-applicable', `board ${board.identity.id} has no ${channel}: only an emulated board whose emulator runs with its trace (rig emulator.trace not false) has one`, { channel });
    }
    throw new RigError('infra-error', 'no-such-channel', `board ${board.identity.id} has no console channel ${channel}; it has ${available.join(', ')}`);
  }
  return [channel];
}

export const expectConsoleStep = defineStep<{ pattern: string; since?: Since; absent?: boolean; flags?: string; channel?: string }>({
  type: 'expect-console',
  needsPower: (p) => !p.absent,
  description:
    'Wait for a line matching a regular expression on a board output (channel: recovery-uart, debug-uart, app-output, app-uart:NAME, or the emulator-only emulator-trace; default every real-board channel), looking back to the start of the previous step (since: previous-step), this step, or the run; with absent: true, fail if such a line appeared',
  schema: {
    required: ['pattern'],
    properties: {
      pattern: { type: 'string', minLength: 1, maxLength: 1000 },
      since: { enum: ['previous-step', 'this-step', 'run'] },
      absent: { type: 'boolean' },
      flags: { type: 'string', pattern: '^[imsu]*$' },
      channel: { type: 'string', pattern: CONSOLE_CHANNEL_PATTERN },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ pattern, since, absent, flags, channel }, context) => {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, flags);
    } catch (error) {
      throw new RigError('infra-error', 'bad-pattern', `pattern ${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message}`);
    }
    const from = sinceMark(context, since);
    const channels = channelsFor(context.board, channel);
    if (absent) {
      const hit = context.board.console.lines(from).find((line) => (!channels || channels.includes(line.channel ?? '')) && regex.test(line.text));
      if (hit) {
        context.matched(hit);
        throw new RigError('test-failed', 'console-line-present', `console showed ${JSON.stringify(hit.text)}, which must not appear`);
      }
      return;
    }
    const line = await context.board.console.expect(regex, { since: from, timeoutMs: context.remainingMs(), signal: context.signal, ...(channels ? { channels } : {}) });
    context.matched(line);
  },
});

export const expectStateStep = defineStep<{ state: BoardState }>({
  type: 'expect-state',
  needsPower: (p) => p.state !== 'off' && p.state !== 'offline',
  description: 'Wait until the board is in a state (ready, off, rom-recovery, hung...); ready also needs its device REST API to answer, which is how a real board shows services up',
  schema: { required: ['state'], properties: { state: { enum: [...BOARD_STATES] } } },
  defaultTimeoutMs: 60_000,
  run: async ({ state }, { board, signal, remainingMs }) => {
    if (board.state() === state) {
      if (state === 'ready') await servicesAnswer(board, { signal, timeoutMs: remainingMs() }, { failureClass: 'test-failed', what: 'board is ready but its device REST API does not answer' });
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onState = (s: BoardState) => {
        if (s !== state) return;
        board.off('state', onState);
        resolve();
      };
      board.on('state', onState);
      signal.addEventListener('abort', () => (board.off('state', onState), reject(signal.reason)), { once: true });
    });
    // The state event may race the first check: confirm with the board itself.
    const info = await board.info({ signal, timeoutMs: remainingMs() });
    if (info.state !== state) throw new RigError('test-failed', 'state-mismatch', `board is ${info.state}, expected ${state}`);
    if (state === 'ready') await servicesAnswer(board, { signal, timeoutMs: remainingMs() }, { failureClass: 'test-failed', what: 'board is ready but its device REST API does not answer' });
  },
});

export const expectOsVersionStep = defineStep<{ version: string; within?: number }>({
  type: 'expect-os-version',
  needsPower: true,
  description: 'The board runs this OS version (asked over its device REST API; with within, until it does)',
  schema: { required: ['version'], properties: { version: { type: 'string', minLength: 1 }, within: WITHIN } },
  defaultTimeoutMs: 30_000,
  run: async ({ version, within }, context) => {
    const call = () => ({ signal: context.signal, timeoutMs: context.remainingMs() });
    // Over the REST API (GET /osversion needs no capability), as a real board is asked.
    const client = context.board.restEndpoint() ? restClient(context) : undefined;
    try {
      const osVersion = await pollUntil(
        async () => (client ? await client.osVersion(call()) : ((await context.board.info(call())).osVersion ?? 'none')),
        (answer) => answer === version,
        { withinMs: within ?? 0, signal: context.signal },
      );
      context.measure('os-version', osVersion, { equals: version });
    } finally {
      client?.close();
    }
  },
});

export const expectAppStateStep = defineStep<{ componentId: string; state: string; imageOf?: string; within?: number; capability?: string }>({
  type: 'expect-app-state',
  needsPower: true,
  description:
    "An app is in a state (running, stopped, debugging, notPresent), as the device REST API says (GET /app/status, and GET /images for imageOf: both need a FieldServicing or AppDevelopment capability, on the board or sent with capability); with imageOf, it runs the image of that artefact; with within, wait until it does",
  schema: {
    required: ['componentId', 'state'],
    properties: {
      componentId: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' },
      state: { enum: ['running', 'stopped', 'debugging', 'notPresent'] },
      imageOf: { type: 'string' },
      within: WITHIN,
      capability: { type: 'string', description: 'artefact of a capability image sent in the AZSPHERE-CAPABILITIES header' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ componentId, state, imageOf, within, capability }, context) => {
    const expectedImage = imageOf ? imageIdOf(context.run.artefact(imageOf).images[0]!) : undefined;
    const ask = appFactsAsker(context, componentId, expectedImage !== undefined, capability ? context.run.artefact(capability).images[0] : undefined);
    try {
      const facts = await pollUntil(ask.facts, (answer) => answer.state === state && (!expectedImage || answer.imageId === expectedImage), {
        withinMs: within ?? 0,
        signal: context.signal,
      });
      context.measure(`app ${componentId} state`, facts.state, { equals: state });
      if (expectedImage) context.measure(`app ${componentId} image`, facts.imageId ?? 'none', { equals: expectedImage });
    } finally {
      ask.close();
    }
  },
});

/**
 * An app's state and image as the board's device REST API tells them, as a
 * real board is asked; a board without a REST endpoint (a test double) through
 * its driver's info.
 */
function appFactsAsker(context: StepContext, componentId: string, wantImage: boolean, capability: Buffer | undefined): { facts: () => Promise<{ state: string; imageId?: string }>; close: () => void } {
  const call = () => ({ signal: context.signal, timeoutMs: context.remainingMs() });
  if (!context.board.restEndpoint()) {
    return {
      facts: async () => {
        const info = await context.board.info(call());
        const app = info.apps.find((a) => a.componentId.toLowerCase() === componentId.toLowerCase());
        return { state: app?.state ?? 'notPresent', ...(app?.imageId ? { imageId: app.imageId } : {}) };
      },
      close: () => undefined,
    };
  }
  const client = restClient(context, capability);
  return {
    facts: async () => {
      const state = String(await client.appStatus(componentId, call()));
      if (!wantImage) return { state };
      const images = await client.images(call());
      const component = images.components?.find((c) => c.uid?.toLowerCase() === componentId.toLowerCase());
      const imageId = component?.images?.[0]?.uid;
      return { state, ...(imageId ? { imageId } : {}) };
    },
    close: () => client.close(),
  };
}
