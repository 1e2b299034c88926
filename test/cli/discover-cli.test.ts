import { expect } from 'chai';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addBoardsToRig, runDiscover, uhubctlSuggestion, type DiscoverDependencies } from '../../src/cli/commands/discover.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { parseRigConfig } from '../../src/daemon/rig-config.js';
import { parseIpJsonAddr } from '../../src/device/mt3620/ip-addr-output.js';
import { UsbDiscovery } from '../../src/link/usb-discovery.js';
import { FakeUsbBus, ScriptedLister } from '../device/mt3620/helpers/fake-usb-bus.js';
import { BOARD_1, BOARD_2, fixtureText, serialPorts, usbDevices } from '../device/mt3620/helpers/recordings.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * `sphere-rig boards discover`: on this host (no USB bus) one clear line and
 * exit 8; on the recorded two-board host the hardware map and the rig entries
 * it writes, bound by USB serial.
 */
const BENCH_EXAMPLE = fileURLToPath(new URL('../../rigs/bench-example.yaml', import.meta.url));

function recordedHost(options: { devices?: string; links?: string } = {}): DiscoverDependencies {
  return {
    scan: () => new UsbDiscovery(new FakeUsbBus(usbDevices(options.devices)), new ScriptedLister([serialPorts()]).list).scan(),
    links: async () => parseIpJsonAddr(fixtureText(options.links ?? 'ip-j-addr-two-links.json')),
  };
}

/** Runs the command in-process against a recorded host, capturing what it prints. */
async function discover(flags: { write?: string; json?: boolean }, deps: DiscoverDependencies): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => ((out.stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((out.stderr += chunk), true)) as typeof process.stderr.write;
  try {
    const code = await runDiscover(flags, deps);
    return { code, ...out };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

describe('sphere-rig boards discover', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'sphere-rig-discover-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('on this host, which has no USB bus', () => {
    before(function () {
      if (existsSync('/dev/bus/usb')) this.skip();
    });

    it('says so in one line and exits 8', async () => {
      const result = await runCli(['boards', 'discover']);
      expect(result.code).to.equal(ExitCode.noUsb);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.equal(
        'sphere-rig: no USB access: no USB bus on this host: /dev/bus/usb does not exist (in a container, pass the bus with --device /dev/bus/usb; in a VM, attach the USB controller); real MT3620 boards cannot be found or reset\n',
      );
    });

    it('with --json prints the error object and exits 8', async () => {
      const result = await runCli(['boards', 'discover', '--json']);
      expect(result.code).to.equal(ExitCode.noUsb);
      const body = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; failureClass: string } };
      expect(body).to.deep.include({ ok: false });
      expect(body.error).to.deep.include({ code: 'no-usb-bus', failureClass: 'infra-error' });
    });

    it('leaves `sphere-rig boards` (the daemon listing) as it was, and lists discover in its help', async () => {
      const listing = await runCli(['boards', '--state', join(dir, 'no-daemon')]);
      expect(listing.code).to.equal(ExitCode.infraError);
      expect(listing.stderr).to.contain('no daemon');
      const help = await runCli(['boards', '--help']);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.contain("List the rig's boards").and.contain('discover [options]');
    });
  });

  describe('on the recorded two-board host', () => {
    it('prints the hardware map: serial, port, console/service/recovery ttys, USB access and service link', async () => {
      const result = await discover({}, recordedHost());
      expect(result.code).to.equal(0);
      const lines = result.stdout.split('\n');
      expect(lines[0]).to.match(/^USB SERIAL +PORT +CONSOLE \(A\) +SERVICE \(C\) +RECOVERY \(D\) +USB +LINK$/);
      expect(lines[1]!.split(/ +/)).to.deep.equal([BOARD_1, '1-1.2', '/dev/ttyUSB0', '/dev/ttyUSB2', '/dev/ttyUSB3', 'ok', 'sl0', 'https://192.168.35.2']);
      expect(lines[2]!.split(/ +/)).to.deep.equal([BOARD_2, '1-1.3', '/dev/ttyUSB4', '/dev/ttyUSB6', '/dev/ttyUSB7', 'ok', 'sl1', 'https://192.168.35.3']);
      expect(lines[3]).to.equal('2 boards');
      expect(lines[4]).to.contain('skipped: FT4232H at USB port 1-1.4 has product string "Quad RS232-HS"');
    });

    it('--json gives the boards with every interface tty', async () => {
      const result = await discover({ json: true }, recordedHost({ links: 'ip-j-addr-no-links.json' }));
      const body = JSON.parse(result.stdout) as { ok: boolean; boards: Array<{ usbSerial: string; ttys: Record<string, { path: string }> }>; links: Record<string, unknown> };
      expect(body.ok).to.equal(true);
      expect(body.boards.map((b) => [b.usbSerial, Object.values(b.ttys).map((t) => t.path)])).to.deep.equal([
        [BOARD_1, ['/dev/ttyUSB0', '/dev/ttyUSB1', '/dev/ttyUSB2', '/dev/ttyUSB3']],
        [BOARD_2, ['/dev/ttyUSB4', '/dev/ttyUSB5', '/dev/ttyUSB6', '/dev/ttyUSB7']],
      ]);
      expect(body.links).to.deep.equal({ [BOARD_1]: null, [BOARD_2]: null });
    });

    it('shows a failed listing of the service links as a problem, the boards still mapped', async () => {
      const host: DiscoverDependencies = { ...recordedHost(), links: () => Promise.reject(new Error('spawn ip ENOENT')) };
      const result = await discover({}, host);
      expect(result.code).to.equal(0);
      const lines = result.stdout.split('\n');
      expect(lines[1]!.split(/ +/)).to.deep.equal([BOARD_1, '1-1.2', '/dev/ttyUSB0', '/dev/ttyUSB2', '/dev/ttyUSB3', 'ok', '-']);
      expect(result.stdout).to.contain("problem: cannot list this host's SLIP links (ip addr show), so the boards' service links are unknown: spawn ip ENOENT");
      const json = JSON.parse((await discover({ json: true }, host)).stdout) as { ok: boolean; problems: string[] };
      expect(json.ok).to.equal(true);
      expect(json.problems.at(-1)).to.contain('spawn ip ENOENT');
    });

    it('exits 8 when the boards may not be opened, naming the udev rule', async () => {
      const result = await discover({}, recordedHost({ devices: 'usb-devices-two-boards-no-permission.json' }));
      expect(result.code).to.equal(ExitCode.noUsb);
      expect(result.stdout).to.contain(`${BOARD_1}`).and.contain('denied');
      expect(result.stderr).to.match(/^sphere-rig: no USB access to some boards: .*rigs\/udev\/99-azure-sphere\.rules/);
    });

    it('--write creates a rig that binds both boards by USB serial, and a second run adds nothing', async () => {
      const rig = join(dir, 'bench.yaml');
      const first = await discover({ write: rig }, recordedHost());
      expect(first.code).to.equal(0);
      expect(first.stdout).to.contain(`${rig}: added bench-1 (${BOARD_1}), bench-2 (${BOARD_2})`);
      const written = readFileSync(rig, 'utf8');
      const config = parseRigConfig(written, rig);
      expect(config.name).to.equal('bench');
      expect(config.boards.map((b) => [b.id, b.driver, b.usbSerial, b.reset?.interface, b.tags])).to.deep.equal([
        ['bench-1', 'mt3620', BOARD_1, 'B', ['real']],
        ['bench-2', 'mt3620', BOARD_2, 'B', ['real']],
      ]);
      expect(written).to.contain('# USB port 1-1.2, found').and.contain('# power: { command: "uhubctl -l 1-1 -p 2 -r 100 -a {action}" }');
      const second = await discover({ write: rig }, recordedHost());
      expect(second.stdout).to.contain('every board is already in the rig');
      expect(readFileSync(rig, 'utf8')).to.equal(written);
    });

    it('--write into an existing rig keeps its comments and boards and adds only the new board, with a free id', () => {
      const rig = join(dir, 'bench-example.yaml');
      copyFileSync(BENCH_EXAMPLE, rig);
      const original = readFileSync(rig, 'utf8').replace('usbSerial: AS1234567890', `usbSerial: ${BOARD_1}`);
      writeFileSync(rig, original);
      const boards = [
        { usbSerial: BOARD_1, portPath: '1-1.2' },
        { usbSerial: BOARD_2, portPath: '1-1.3' },
      ].map((b) => ({ ...b, busNumber: 1, deviceAddress: 5, manufacturer: null, product: null, usbAccess: 'ok' as const, ttys: {}, warnings: [] }));
      const { text, added } = addBoardsToRig(original, rig, boards);
      expect(added).to.deep.equal([{ id: 'bench-example-1', usbSerial: BOARD_2 }]);
      expect(text).to.contain('# Real boards are bound by USB serial number').and.contain('uhubctl -l 1-1 -p 3 -r 100 -a {action}');
      const config = parseRigConfig(text, rig);
      expect(config.boards.map((b) => b.id)).to.deep.equal(['bench-1', 'bench-2', 'emu-1', 'bench-example-1']);
    });

    it('refuses to write into a rig file that is not valid, naming it', async () => {
      const rig = join(dir, 'broken.yaml');
      writeFileSync(rig, 'name: broken\nboards: [\n');
      const result = await discover({ write: rig }, recordedHost());
      expect(result.code).to.equal(ExitCode.infraError);
      expect(result.stderr).to.contain(`${rig}: not valid YAML`);
    });

    it('suggests uhubctl locations from port paths', () => {
      expect(uhubctlSuggestion('1-1.2')).to.equal('uhubctl -l 1-1 -p 2 -r 100 -a {action}');
      expect(uhubctlSuggestion('3-4')).to.equal('uhubctl -l 3 -p 4 -r 100 -a {action}');
      expect(uhubctlSuggestion('1-1.4.3')).to.equal('uhubctl -l 1-1.4 -p 3 -r 100 -a {action}');
      expect(uhubctlSuggestion(null)).to.equal(null);
    });
  });
});
