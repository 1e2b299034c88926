import { Ajv } from 'ajv';
import { FormatError } from '../image/format-error.js';

/**
 * The emulator cannot run ARM code, so an app image may carry a behaviour file,
 * `emu/behaviour.json` in its ASXipFS, saying what the app does once started.
 * Apps without one (real SDK images) run as idle processes. Schema (all optional):
 *
 *   log         lines to print, each {afterMs, line} or a plain string (at start): the app's
 *               output, seen on its debug output port when started in debug mode
 *   uartLog     lines the app writes to its ISU UART, which a bench wires to its own USB
 *               serial adapter (the emulator offers it as the board's appUart pty)
 *   repeatLog   {everyMs, line, count?}: a line every everyMs ms; "{n}" is replaced by a counter
 *   exit        {afterMs, code}: exit with code 0..255 (the OS restarts the app)
 *   crash       {afterMs, signal, signalCode?}: die with a signal (the OS restarts the app)
 *   hang        {afterMs}: stop doing anything (no more lines, no exit)
 *   deviceAuth  {afterMs}: ask for the device-auth certificate (needs DeviceAuthentication)
 *   connect     [{afterMs, host}]: open a connection, checked against AllowedConnections
 *
 * Times are board-clock milliseconds after the app starts.
 */
export const BEHAVIOUR_PATH = 'emu/behaviour.json';

export interface AppBehaviour {
  log?: Array<string | { afterMs: number; line: string }>;
  uartLog?: Array<string | { afterMs: number; line: string }>;
  repeatLog?: { everyMs: number; line: string; count?: number };
  exit?: { afterMs: number; code: number };
  crash?: { afterMs: number; signal: number; signalCode?: number };
  hang?: { afterMs: number };
  deviceAuth?: { afterMs: number };
  connect?: Array<{ afterMs: number; host: string }>;
}

const ms = { type: 'number', minimum: 0, maximum: 31_536_000_000 };
const timedLines = {
  type: 'array',
  maxItems: 1000,
  items: {
    anyOf: [
      { type: 'string', maxLength: 4096 },
      { type: 'object', additionalProperties: false, required: ['afterMs', 'line'], properties: { afterMs: ms, line: { type: 'string', maxLength: 4096 } } },
    ],
  },
} as const;
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    log: timedLines,
    uartLog: timedLines,
    repeatLog: {
      type: 'object',
      additionalProperties: false,
      required: ['everyMs', 'line'],
      properties: { everyMs: { type: 'number', minimum: 1, maximum: 86_400_000 }, line: { type: 'string', maxLength: 4096 }, count: { type: 'integer', minimum: 1 } },
    },
    exit: { type: 'object', additionalProperties: false, required: ['afterMs', 'code'], properties: { afterMs: ms, code: { type: 'integer', minimum: 0, maximum: 255 } } },
    crash: {
      type: 'object',
      additionalProperties: false,
      required: ['afterMs', 'signal'],
      properties: { afterMs: ms, signal: { type: 'integer', minimum: 1, maximum: 64 }, signalCode: { type: 'integer', minimum: 0, maximum: 255 } },
    },
    hang: { type: 'object', additionalProperties: false, required: ['afterMs'], properties: { afterMs: ms } },
    deviceAuth: { type: 'object', additionalProperties: false, required: ['afterMs'], properties: { afterMs: ms } },
    connect: {
      type: 'array',
      maxItems: 100,
      items: { type: 'object', additionalProperties: false, required: ['afterMs', 'host'], properties: { afterMs: ms, host: { type: 'string', maxLength: 253 } } },
    },
  },
} as const;

const validate = new Ajv({ allErrors: false }).compile<AppBehaviour>(schema);

export function parseAppBehaviour(bytes: Buffer): AppBehaviour {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new FormatError('behaviour-invalid', `${BEHAVIOUR_PATH} is not JSON: ${(error as Error).message}`);
  }
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const path = `$${(first?.instancePath ?? '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    throw new FormatError('behaviour-invalid', `${BEHAVIOUR_PATH}: ${first?.message ?? 'invalid'}`, { jsonPath: path });
  }
  return value;
}
