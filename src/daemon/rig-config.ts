import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../util/failure.js';
import { parseLoopbackHostPort, type HostPort } from '../util/loopback-address.js';
import { describeAjvErrors } from '../util/schema-errors.js';

/**
 * A rig inventory (`rigs/*.yaml`): the boards a daemon owns, how each is bound
 * (an emulated board by index, a real board by USB serial), its tags and tenant,
 * how its power is switched, plus the emulator and DAA settings. Validated
 * against a schema; errors name the file and the path in it.
 */
export interface RigBoardConfig {
  id: string;
  driver: 'emulated' | 'mt3620';
  tags: string[];
  tenant?: string;
  /** Emulated boards: index into the emulator's boards. */
  emulatorBoard?: number;
  /** Real boards: the FT4232H serial number (AS...). */
  usbSerial?: string;
  /** Real boards: a command with {action} = on | off | cycle. */
  power?: { command: string };
  reset?: { interface: 'B' | 'D' };
  /** Real boards: REST API base URL when the service link is already up. */
  restUrl?: string;
  /** Real boards: recovery imaging at 115200 with RTS/CTS (low, default) or 3,000,000 (high); else `realBoards.recoverySpeed`. */
  recoverySpeed?: 'low' | 'high';
  /** Real boards: UARTs an app drives, wired to USB serial adapters of their own: name -> serial device path (console channel app-uart:NAME). */
  appUarts?: Record<string, string>;
}

export interface RigConfig {
  name: string;
  description?: string;
  /** Where the daemon serves: a loopback address (port 0: any free port). Default 127.0.0.1:8480. */
  daemon: { listen: HostPort };
  /** `speed` defaults to fast (what tests and CI want); `real` keeps the board's own timings. */
  /** trace: the emulator-only readable trace of each board (default true; false proves no scenario needs it). */
  emulator?: { boards: number; speed: 'fast' | 'real'; baselineApp?: boolean; trace?: boolean };
  daa?: { tenants: Array<{ name: string; developmentMode?: 'allowed' | 'forbidden' }> };
  /** Settings of every mt3620 board that does not set its own. */
  realBoards?: { recoverySpeed?: 'low' | 'high' };
  /**
   * Board health: the scenario that checks a board, per driver kind (null: boards of
   * that kind are not checked and count as good unless drained), and whether every
   * board is checked when the daemon starts.
   */
  health: { checks: Record<RigBoardConfig['driver'], string | null>; atStart: boolean };
  boards: RigBoardConfig[];
  source: string;
}

export const DEFAULT_HEALTH_CHECK = 'health-check';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'boards'],
  properties: {
    name: { type: 'string', pattern: '^[\\w-]+$' },
    description: { type: 'string' },
    daemon: {
      type: 'object',
      additionalProperties: false,
      properties: { listen: { type: 'string' } },
    },
    emulator: {
      type: 'object',
      additionalProperties: false,
      required: ['boards'],
      properties: {
        boards: { type: 'integer', minimum: 1, maximum: 1000 },
        speed: { enum: ['fast', 'real'], default: 'fast' },
        baselineApp: { type: 'boolean' },
        trace: { type: 'boolean' },
      },
    },
    realBoards: {
      type: 'object',
      additionalProperties: false,
      properties: { recoverySpeed: { enum: ['low', 'high'] } },
    },
    daa: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tenants: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string', pattern: '^[\\w-]+$' }, developmentMode: { enum: ['allowed', 'forbidden'] } },
          },
        },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      properties: {
        checks: {
          type: 'object',
          additionalProperties: false,
          properties: {
            emulated: { type: ['string', 'null'], pattern: '^[a-z0-9][a-z0-9-]*$' },
            mt3620: { type: ['string', 'null'], pattern: '^[a-z0-9][a-z0-9-]*$' },
          },
        },
        atStart: { type: 'boolean' },
      },
    },
    boards: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'driver'],
        properties: {
          id: { type: 'string', pattern: '^[\\w-]+$', maxLength: 64 },
          driver: { enum: ['emulated', 'mt3620'] },
          tags: { type: 'array', items: { type: 'string', pattern: '^[\\w-]+$' } },
          tenant: { type: 'string' },
          emulatorBoard: { type: 'integer', minimum: 0 },
          usbSerial: { type: 'string', minLength: 1 },
          power: { type: 'object', additionalProperties: false, required: ['command'], properties: { command: { type: 'string', minLength: 1 } } },
          reset: { type: 'object', additionalProperties: false, properties: { interface: { enum: ['B', 'D'] } } },
          restUrl: { type: 'string', pattern: '^https://' },
          recoverySpeed: { enum: ['low', 'high'] },
          appUarts: {
            type: 'object',
            maxProperties: 8,
            propertyNames: { pattern: '^[A-Za-z0-9_-]{1,40}$' },
            additionalProperties: { type: 'string', pattern: '^/dev/', maxLength: 4096 },
          },
        },
      },
    },
  },
} as const;

export const DEFAULT_LISTEN = '127.0.0.1:8480';

// useDefaults fills in the schema's defaults (emulator.speed) as it validates.
const validate = new Ajv({ allErrors: true, useDefaults: true }).compile(schema);

export function parseRigConfig(text: string, source: string): RigConfig {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new InputError('rig-unparseable', `${source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!validate(value)) throw new InputError('rig-invalid', describeAjvErrors(validate.errors, source));
  const raw = value as Omit<RigConfig, 'source' | 'daemon' | 'boards' | 'health'> & {
    daemon?: { listen?: string };
    health?: { checks?: Partial<RigConfig['health']['checks']>; atStart?: boolean };
    boards: Array<Partial<RigBoardConfig>>;
  };
  const ids = new Set<string>();
  const boards = raw.boards.map((board, i) => {
    const where = `${source}: at $.boards[${i}]`;
    if (ids.has(board.id!)) throw new InputError('rig-invalid', `${where}.id: board id '${board.id}' is used twice`);
    ids.add(board.id!);
    if (board.driver === 'emulated') {
      if (board.emulatorBoard === undefined) throw new InputError('rig-invalid', `${where}: an emulated board needs emulatorBoard (its index in the emulator)`);
      if (!raw.emulator || board.emulatorBoard >= raw.emulator.boards) {
        throw new InputError('rig-invalid', `${where}.emulatorBoard: ${board.emulatorBoard} is not below emulator.boards (${raw.emulator?.boards ?? 0})`);
      }
    }
    if (board.driver === 'mt3620' && !board.usbSerial) throw new InputError('rig-invalid', `${where}: a real board needs usbSerial (bind by serial, never by /dev/ttyUSBn)`);
    if (board.driver === 'emulated' && board.appUarts) {
      throw new InputError('rig-invalid', `${where}.appUarts: applies to mt3620 boards only (an emulated board offers its apps' UART as console channel app-uart:isu0)`);
    }
    if (board.driver === 'emulated' && board.recoverySpeed) {
      throw new InputError('rig-invalid', `${where}.recoverySpeed: applies to mt3620 boards only (emulated boards recover at 3,000,000 baud)`);
    }
    const recoverySpeed = board.driver === 'mt3620' ? (board.recoverySpeed ?? raw.realBoards?.recoverySpeed) : undefined;
    const tenants = raw.daa?.tenants?.map((t) => t.name) ?? [];
    if (board.tenant && !tenants.includes(board.tenant)) throw new InputError('rig-invalid', `${where}.tenant: tenant '${board.tenant}' is not declared under daa.tenants`);
    return { tags: [], ...board, ...(recoverySpeed ? { recoverySpeed } : {}) } as RigBoardConfig;
  });
  const listen = parseLoopbackHostPort(raw.daemon?.listen ?? DEFAULT_LISTEN, `${source}: at $.daemon.listen`, { use: 'listen' });
  const health: RigConfig['health'] = {
    checks: { emulated: DEFAULT_HEALTH_CHECK, mt3620: DEFAULT_HEALTH_CHECK, ...raw.health?.checks },
    atStart: raw.health?.atStart ?? true,
  };
  return { ...raw, daemon: { listen }, health, boards, source };
}

export function loadRigConfig(path: string): RigConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError('rig-unreadable', `${path}: cannot read rig file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseRigConfig(text, path);
}
