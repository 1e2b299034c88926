import { RigError } from '../../util/failure.js';
import { BOARD_STATES, type BoardState } from '../../device/board.js';
import { defineStep, type StepContext } from '../step-type.js';
import { imageIdOf } from './artefact-steps.js';

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

export const expectConsoleStep = defineStep<{ pattern: string; since?: Since; absent?: boolean; flags?: string }>({
  type: 'expect-console',
  needsPower: (p) => !p.absent,
  description:
    'Wait for a console line matching a regular expression, looking back to the start of the previous step (since: previous-step), this step, or the run; with absent: true, fail if such a line appeared',
  schema: {
    required: ['pattern'],
    properties: {
      pattern: { type: 'string', minLength: 1, maxLength: 1000 },
      since: { enum: ['previous-step', 'this-step', 'run'] },
      absent: { type: 'boolean' },
      flags: { type: 'string', pattern: '^[imsu]*$' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ pattern, since, absent, flags }, context) => {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, flags);
    } catch (error) {
      throw new RigError('infra-error', 'bad-pattern', `pattern ${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message}`);
    }
    const from = sinceMark(context, since);
    if (absent) {
      const hit = context.board.console.lines(from).find((line) => regex.test(line.text));
      if (hit) {
        context.matched(hit);
        throw new RigError('test-failed', 'console-line-present', `console showed ${JSON.stringify(hit.text)}, which must not appear`);
      }
      return;
    }
    const line = await context.board.console.expect(regex, { since: from, timeoutMs: context.remainingMs(), signal: context.signal });
    context.matched(line);
  },
});

export const expectStateStep = defineStep<{ state: BoardState }>({
  type: 'expect-state',
  needsPower: (p) => p.state !== 'off' && p.state !== 'offline',
  description: 'Wait until the board is in a state (ready, off, rom-recovery, hung...)',
  schema: { required: ['state'], properties: { state: { enum: [...BOARD_STATES] } } },
  defaultTimeoutMs: 60_000,
  run: async ({ state }, { board, signal, remainingMs }) => {
    if (board.state() === state) return;
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
  },
});

export const expectOsVersionStep = defineStep<{ version: string }>({
  type: 'expect-os-version',
  needsPower: true,
  description: 'The board runs this OS version',
  schema: { required: ['version'], properties: { version: { type: 'string', minLength: 1 } } },
  defaultTimeoutMs: 30_000,
  run: async ({ version }, context) => {
    const info = await context.board.info({ signal: context.signal, timeoutMs: context.remainingMs() });
    context.measure('os-version', info.osVersion ?? 'none', { equals: version });
  },
});

export const expectAppStateStep = defineStep<{ componentId: string; state: string; imageOf?: string }>({
  type: 'expect-app-state',
  needsPower: true,
  description: "An app is in a state (running, stopped, debugging, notPresent); with imageOf, it runs the image of that artefact",
  schema: {
    required: ['componentId', 'state'],
    properties: {
      componentId: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' },
      state: { enum: ['running', 'stopped', 'debugging', 'notPresent'] },
      imageOf: { type: 'string' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async ({ componentId, state, imageOf }, context) => {
    const info = await context.board.info({ signal: context.signal, timeoutMs: context.remainingMs() });
    const app = info.apps.find((a) => a.componentId.toLowerCase() === componentId.toLowerCase());
    context.measure(`app ${componentId} state`, app?.state ?? 'notPresent', { equals: state });
    if (imageOf) {
      const expected = imageIdOf(context.run.artefact(imageOf).images[0]!);
      context.measure(`app ${componentId} image`, app?.imageId ?? 'none', { equals: expected });
    }
  },
});
