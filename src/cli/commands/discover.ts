import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { parseRigConfig } from '../../daemon/rig-config.js';
import { ChildProcessRunner } from '../../device/mt3620/command-runner.js';
import { linkForBoard, type SlipLinkInfo } from '../../device/mt3620/ip-addr-output.js';
import { SlipServiceLinks } from '../../device/mt3620/service-link.js';
import { isUsbAccessError } from '../../link/usb-access-error.js';
import type { DiscoveredBoard, DiscoveryReport } from '../../link/usb-discovery.js';
import { openHostUsbDiscovery } from '../../link/usb-host-discovery.js';
import { InputError } from '../../util/failure.js';
import { action, reportError } from '../action.js';
import { ExitCode } from '../exit-codes.js';
import { writeOutputFile } from '../files.js';

/**
 * `sphere-rig boards discover`: the hardware map of this host. Lists the
 * MT3620 boards on USB by serial, with port path and the tty of each FTDI
 * interface, and their service links when up; `--write rig.yaml` adds the
 * boards not yet in that rig as mt3620 entries bound by USB serial.
 *
 * It is a subcommand of the existing `boards` (which lists a daemon's boards
 * and keeps doing so): `boards` with no subcommand runs its own action.
 * Because `boards` already has `--json`, commander gives that flag to the
 * parent, so the options are read merged with the parent's.
 *
 * Exit codes: 0 listed (also when no board is attached), 8 no USB access (no
 * bus, libusb unusable, or boards that may not be opened: install the udev
 * rule), 3 other problems (an unreadable or invalid rig file).
 */
interface DiscoverFlags {
  write?: string;
  json?: boolean;
}

export interface BenchMap extends DiscoveryReport {
  links: Record<string, { link: string; device: string; up: boolean } | null>;
}

export interface DiscoverDependencies {
  scan(): Promise<DiscoveryReport>;
  /** Read-only: the SLIP links up on this host (ip -j addr show). */
  links(): Promise<SlipLinkInfo[]>;
}

const hostDependencies: DiscoverDependencies = {
  scan: async () => {
    const discovery = await openHostUsbDiscovery();
    try {
      return await discovery.scan({ timeoutMs: 15_000 });
    } finally {
      discovery.close();
    }
  },
  links: () => new SlipServiceLinks({ runner: new ChildProcessRunner(), attachedBoards: () => 0 }).links({ timeoutMs: 5_000 }),
};

export async function mapBench(deps: DiscoverDependencies): Promise<BenchMap> {
  const report = await deps.scan();
  const problems = [...report.problems];
  let links: SlipLinkInfo[] = [];
  // Only when there are boards to match: a failed listing is then a problem to show, not a silent '-' under LINK.
  if (report.boards.length) {
    try {
      links = await deps.links();
    } catch (error) {
      problems.push(`cannot list this host's SLIP links (ip addr show), so the boards' service links are unknown: ${(error as Error).message}`);
    }
  }
  const byBoard: BenchMap['links'] = {};
  for (const board of report.boards) {
    const link = linkForBoard(links, board.usbSerial, report.boards.length === 1);
    byBoard[board.usbSerial] = link?.deviceAddress ? { link: link.ifname, device: link.deviceAddress, up: link.up } : null;
  }
  return { ...report, problems, links: byBoard };
}

export function renderBenchMap(map: BenchMap): string {
  const out: string[] = [];
  if (!map.boards.length) out.push('no MT3620 boards attached (FT4232H "MSFT MT3620 Std Interface")');
  else {
    out.push(`${'USB SERIAL'.padEnd(16)} ${'PORT'.padEnd(10)} ${'CONSOLE (A)'.padEnd(16)} ${'SERVICE (C)'.padEnd(16)} ${'RECOVERY (D)'.padEnd(16)} ${'USB'.padEnd(7)} LINK`);
    for (const board of map.boards) {
      const tty = (port: 'A' | 'C' | 'D') => (board.ttys[port]?.path ?? '-').padEnd(16);
      const link = map.links[board.usbSerial];
      out.push(
        `${board.usbSerial.padEnd(16)} ${(board.portPath ?? '?').padEnd(10)} ${tty('A')} ${tty('C')} ${tty('D')} ${board.usbAccess.padEnd(7)} ${link ? `${link.link} https://${link.device}` : '-'}`,
      );
      for (const warning of board.warnings) out.push(`  warning: ${warning}`);
    }
    out.push(`${map.boards.length} board${map.boards.length === 1 ? '' : 's'}`);
  }
  for (const skipped of map.skipped) out.push(`skipped: ${skipped.reason}`);
  for (const problem of map.problems) out.push(`problem: ${problem}`);
  return `${out.join('\n')}\n`;
}

/**
 * uhubctl's view of a port path: hub location and port, e.g. 1-1.2 -> -l 1-1 -p 2.
 * -r 100 repeats the power-off: on Linux the kernel otherwise powers the port
 * back on within seconds (see docs/real-boards.md).
 */
export function uhubctlSuggestion(portPath: string | null): string | null {
  const match = portPath ? /^(\d+)-([\d.]+)$/.exec(portPath) : null;
  if (!match) return null;
  const ports = match[2]!.split('.');
  const port = ports.pop()!;
  const hub = ports.length ? `${match[1]}-${ports.join('.')}` : match[1]!;
  return `uhubctl -l ${hub} -p ${port} -r 100 -a {action}`;
}

function rigNameFor(path: string): string {
  const name = basename(path, extname(path)).replace(/[^\w-]/g, '-');
  return name || 'bench';
}

/**
 * Adds the boards not yet bound in the rig (by USB serial) as mt3620 entries,
 * keeping the file's comments and layout; a new file gets a minimal rig.
 * The result must pass the rig schema before anything is written.
 */
export function addBoardsToRig(existing: string | null, rigPath: string, boards: readonly DiscoveredBoard[], today = new Date()): { text: string; added: Array<{ id: string; usbSerial: string }> } {
  const prefix = rigNameFor(rigPath);
  const doc: Document = parseDocument(
    existing ??
      `# Real MT3620 boards found by \`sphere-rig boards discover\`, bound by USB serial.\nname: ${prefix}\ndaemon:\n  listen: 127.0.0.1:8480\nboards: []\n`,
  );
  if (doc.errors.length) throw new InputError('rig-unparseable', `${rigPath}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  let list = doc.get('boards', true) as YAMLSeq | undefined;
  if (!list) {
    doc.set('boards', doc.createNode([]));
    list = doc.get('boards', true) as YAMLSeq;
  }
  if (!isSeq(list)) throw new InputError('rig-invalid', `${rigPath}: boards is not a list`);
  list.flow = false;
  const entries = list.items.filter(isMap) as YAMLMap[];
  const serials = new Set(entries.map((e) => String(e.get('usbSerial') ?? '')));
  const ids = new Set(entries.map((e) => String(e.get('id') ?? '')));
  const added: Array<{ id: string; usbSerial: string }> = [];
  let n = 1;
  for (const board of boards) {
    if (serials.has(board.usbSerial)) continue;
    while (ids.has(`${prefix}-${n}`)) n += 1;
    const id = `${prefix}-${n}`;
    ids.add(id);
    const node = doc.createNode({ id, driver: 'mt3620', usbSerial: board.usbSerial }) as YAMLMap;
    node.set('tags', doc.createNode(['real'], { flow: true }));
    node.set('reset', doc.createNode({ interface: 'B' }, { flow: true }));
    const power = uhubctlSuggestion(board.portPath);
    node.commentBefore = ` USB port ${board.portPath ?? 'unknown'}, found ${today.toISOString().slice(0, 10)}${power ? `\n power: { command: "${power}" }   # if the hub switches port power` : ''}`;
    list.add(node);
    added.push({ id, usbSerial: board.usbSerial });
  }
  const text = doc.toString();
  parseRigConfig(text, rigPath);
  return { text, added };
}

export function registerDiscoverCommand(program: Command): void {
  const boards = program.commands.find((c) => c.name() === 'boards') ?? program.command('boards').description('Boards of the rig');
  boards
    .command('discover')
    .description('List the MT3620 boards attached to this host (USB serial, port, ttys, service link); --write adds them to a rig file')
    .option('--write <rig.yaml>', 'add the boards not yet in this rig file as mt3620 entries bound by USB serial (created if missing)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Boards are FTDI FT4232H devices with the product string "MSFT MT3620 Std Interface".
Interfaces: A console (115200), B SWD, C service UART (SLIP, 921600), D recovery UART.
Exit codes: 0 listed (also when none is attached), 8 no USB access (no USB bus, libusb
unusable, or no permission: install rigs/udev/99-azure-sphere.rules), 3 bad rig file.
See docs/real-boards.md.`,
    )
    .action(
      action(async (_flags: DiscoverFlags, command: Command) => {
        const flags = command.optsWithGlobals<DiscoverFlags>();
        return runDiscover(flags, hostDependencies);
      }),
    );
}

export async function runDiscover(flags: DiscoverFlags, deps: DiscoverDependencies): Promise<number> {
  let map: BenchMap;
  try {
    map = await mapBench(deps);
  } catch (error) {
    if (!isUsbAccessError(error)) return reportError(error, flags.json === true);
    if (flags.json) process.stdout.write(`${JSON.stringify({ ok: false, error: error.toJSON() })}\n`);
    process.stderr.write(`sphere-rig: no USB access: ${error.message}\n`);
    return ExitCode.noUsb;
  }
  let written: { path: string; added: Array<{ id: string; usbSerial: string }> } | undefined;
  if (flags.write && map.boards.length) {
    try {
      const existing = existsSync(flags.write) ? readFileSync(flags.write, 'utf8') : null;
      const { text, added } = addBoardsToRig(existing, flags.write, map.boards);
      if (added.length) writeOutputFile(flags.write, text);
      written = { path: flags.write, added };
    } catch (error) {
      return reportError(error, flags.json === true);
    }
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ok: !map.permissionDenied, ...map, ...(written ? { written } : {}) }, null, 2)}\n`);
  } else {
    process.stdout.write(renderBenchMap(map));
    if (flags.write) {
      if (!written) process.stdout.write(`nothing written to ${flags.write}: no boards found\n`);
      else if (!written.added.length) process.stdout.write(`${flags.write}: every board is already in the rig\n`);
      else process.stdout.write(`${flags.write}: added ${written.added.map((a) => `${a.id} (${a.usbSerial})`).join(', ')}\n`);
    }
  }
  if (map.permissionDenied) {
    if (!flags.json) process.stderr.write(`sphere-rig: no USB access to some boards: ${map.problems[0]}\n`);
    return ExitCode.noUsb;
  }
  return ExitCode.ok;
}
