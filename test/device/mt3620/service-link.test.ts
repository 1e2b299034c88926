import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { freeDeviceAddress, linkForBoard, parseIpJsonAddr, parseIpOneLineAddr, parseSlipInterfaceNames } from '../../../src/device/mt3620/ip-addr-output.js';
import { SlipServiceLinks } from '../../../src/device/mt3620/service-link.js';
import { addressLinkCommands, configureLineCommand, slattachCommand } from '../../../src/device/mt3620/slip-link-commands.js';
import { REAL_DEVICE_CA_PATH } from '../../../src/device/rest/device-rest-client.js';
import { parseCertificates } from '../../../src/pki/certificate.js';
import type { DiscoveredBoard } from '../../../src/link/usb-discovery.js';
import { FakeCommandRunner } from './helpers/fake-command-runner.js';
import { BOARD_1, BOARD_2, byId, fixtureText } from './helpers/recordings.js';

/**
 * The service link (SLIP on interface C, 921600 baud, RTS/CTS; host
 * 192.168.35.1, board 192.168.35.N): its commands are built and their outputs
 * parsed by pure functions, and a fake runner replays recorded `ip` outputs.
 * Nothing here is executed and no packet is sent.
 */
function board(usbSerial: string, c = 2): DiscoveredBoard {
  return {
    usbSerial,
    portPath: '1-1.2',
    busNumber: 1,
    deviceAddress: 5,
    manufacturer: 'Microsoft',
    product: 'MSFT MT3620 Std Interface',
    usbAccess: 'ok',
    ttys: { C: { port: 'C', interfaceNumber: 2, path: `/dev/ttyUSB${c}`, byIdPath: byId(usbSerial, 2) } },
    warnings: [],
  };
}

describe('the SLIP service link of real boards', () => {
  describe('commands', () => {
    it('sets the line up with stty (921600 raw 8N1, RTS/CTS) and lets slattach only switch it to SLIP', () => {
      const tty = byId(BOARD_1, 2);
      expect(configureLineCommand(tty)).to.deep.equal({ file: 'stty', args: ['-F', tty, '921600', 'raw', '-echo', 'cs8', '-cstopb', '-parenb', 'crtscts', 'clocal'] });
      expect(slattachCommand(tty)).to.deep.equal({ file: 'slattach', args: ['-m', '-p', 'slip', tty] });
    });

    it('addresses the link point-to-point (host .1, board .N/32), tags it with the USB serial and raises it', () => {
      expect(addressLinkCommands('sl1', '192.168.35.3', BOARD_2).map((c) => [c.file, ...c.args].join(' '))).to.deep.equal([
        'ip addr add 192.168.35.1 peer 192.168.35.3/32 dev sl1',
        `ip link set dev sl1 alias sphere-rig:${BOARD_2}`,
        'ip link set dev sl1 up',
      ]);
    });

    it('can run the privileged ones through sudo -n, and another slattach', () => {
      const settings = { sudo: true, slattach: '/opt/azurespheresdk/DeviceConnection/azsphere_slattach' };
      expect(slattachCommand('/dev/ttyUSB2', settings)).to.deep.equal({ file: 'sudo', args: ['-n', '/opt/azurespheresdk/DeviceConnection/azsphere_slattach', '-m', '-p', 'slip', '/dev/ttyUSB2'] });
      expect(addressLinkCommands('sl0', '192.168.35.2', BOARD_1, settings)[2]).to.deep.equal({ file: 'sudo', args: ['-n', 'ip', 'link', 'set', 'dev', 'sl0', 'up'] });
      expect(configureLineCommand('/dev/ttyUSB2', settings).file).to.equal('stty');
    });
  });

  describe('parsing ip output', () => {
    it('finds two tagged links and their boards in `ip -j addr show`', () => {
      expect(parseIpJsonAddr(fixtureText('ip-j-addr-two-links.json'))).to.deep.equal([
        { ifname: 'sl0', up: true, linkType: 'slip', alias: `sphere-rig:${BOARD_1}`, hostAddress: '192.168.35.1', deviceAddress: '192.168.35.2', prefixLength: 32 },
        { ifname: 'sl1', up: true, linkType: 'slip', alias: `sphere-rig:${BOARD_2}`, hostAddress: '192.168.35.1', deviceAddress: '192.168.35.3', prefixLength: 32 },
      ]);
    });

    it('reads the same links from `ip -o addr show` (old iproute2), without flags or aliases', () => {
      expect(parseIpOneLineAddr(fixtureText('ip-o-addr-two-links.txt')).map((l) => [l.ifname, l.hostAddress, l.deviceAddress, l.alias])).to.deep.equal([
        ['sl0', '192.168.35.1', '192.168.35.2', null],
        ['sl1', '192.168.35.1', '192.168.35.3', null],
      ]);
    });

    it("recognises azsphere_connect.sh's link (192.168.35.1/24, no peer) as serving the board at .2", () => {
      const [link] = parseIpJsonAddr(fixtureText('ip-j-addr-azsphere-connect.json'));
      expect(link).to.deep.include({ ifname: 'sl0', alias: null, deviceAddress: '192.168.35.2', prefixLength: 24 });
      expect(linkForBoard([link!], BOARD_1, true)).to.equal(link);
      expect(linkForBoard([link!], BOARD_1, false), 'with several boards an untagged link is nobody’s').to.equal(undefined);
    });

    it('picks a board’s link by its tag and the lowest free board address', () => {
      const links = parseIpJsonAddr(fixtureText('ip-j-addr-two-links.json'));
      expect(linkForBoard(links, BOARD_2, false)?.ifname).to.equal('sl1');
      expect(linkForBoard(links, 'AS999', false)).to.equal(undefined);
      expect(freeDeviceAddress(links)).to.equal('192.168.35.4');
      expect(freeDeviceAddress([])).to.equal('192.168.35.2');
      expect(parseIpJsonAddr(fixtureText('ip-j-addr-no-links.json'))).to.deep.equal([]);
    });

    it('spots the interface slattach created in `ip -j link show`', () => {
      expect(parseSlipInterfaceNames(fixtureText('ip-j-link-no-slip.json'))).to.deep.equal([]);
      expect(parseSlipInterfaceNames(fixtureText('ip-j-link-new-sl0.json'))).to.deep.equal(['sl0']);
    });
  });

  describe('bring-up and detection (recorded outputs, nothing executed)', () => {
    it('uses a link already up for the board, pinned to Microsoft’s device CA, without changing anything', async () => {
      const runner = new FakeCommandRunner([{ prefix: 'ip -j addr show', result: { stdout: fixtureText('ip-j-addr-two-links.json') } }]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 2 });
      const endpoint = await links.endpoint(board(BOARD_2), { timeoutMs: 1_000 });
      expect(endpoint).to.deep.include({ baseUrl: 'https://192.168.35.3', link: 'sl1', how: 'existing-link' });
      expect(endpoint.caPem).to.equal(readFileSync(REAL_DEVICE_CA_PATH, 'utf8'));
      expect(parseCertificates(endpoint.caPem)[0]!.subject).to.contain('Azure Sphere Device');
      expect(runner.log).to.deep.equal(['ip -j addr show']);
    });

    it('brings a link up on interface C: stty, slattach, then address, tag and raise the new sl0', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { stdout: fixtureText('ip-j-addr-no-links.json') } },
        { prefix: 'ip -j link show', results: [{ stdout: fixtureText('ip-j-link-no-slip.json') }, { stdout: fixtureText('ip-j-link-no-slip.json') }, { stdout: fixtureText('ip-j-link-new-sl0.json') }] },
      ]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 1, pollMs: 1 });
      const endpoint = await links.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      expect(endpoint).to.deep.include({ baseUrl: 'https://192.168.35.2', link: 'sl0', how: 'brought-up' });
      const tty = byId(BOARD_1, 2);
      expect(runner.log).to.deep.equal([
        'ip -j addr show',
        'ip -j link show',
        `stty -F ${tty} 921600 raw -echo cs8 -cstopb -parenb crtscts clocal`,
        `start slattach -m -p slip ${tty}`,
        'ip -j link show',
        'ip -j link show',
        'ip addr add 192.168.35.1 peer 192.168.35.2/32 dev sl0',
        `ip link set dev sl0 alias sphere-rig:${BOARD_1}`,
        'ip link set dev sl0 up',
      ]);
      expect(runner.started[0]!.stopped).to.equal(false);
      await links.release(BOARD_1);
      expect(runner.started[0]!.stopped, 'release stops the slattach it started').to.equal(true);
    });

    it('falls back to `ip -o addr` where iproute2 has no JSON', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { code: 1, stderr: 'Option "-j" is unknown, try "ip -help".' } },
        { prefix: 'ip -o -4 addr show', result: { stdout: fixtureText('ip-o-addr-two-links.txt') } },
      ]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 1 });
      expect((await links.links({ timeoutMs: 1_000 })).map((l) => l.ifname)).to.deep.equal(['sl0', 'sl1']);
    });

    it('a slattach refused for lack of CAP_NET_ADMIN says what to do', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { stdout: '[]' } },
        { prefix: 'ip -j link show', result: { stdout: fixtureText('ip-j-link-no-slip.json') } },
      ]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 1, pollMs: 5 });
      const pending = links.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      runner.started[0]!.exit({ code: 1, stderr: 'SLIP_set_disc(1): Operation not permitted\n' });
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'service-link-permission' });
      expect((error as Error).message).to.contain('CAP_NET_ADMIN').and.contain('docs/real-boards.md');
    });

    it('a bring-up waiting for slattach honours cancellation and stops the slattach it started', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { stdout: '[]' } },
        { prefix: 'ip -j link show', result: { stdout: fixtureText('ip-j-link-no-slip.json') } },
      ]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 1, pollMs: 5 });
      const controller = new AbortController();
      const pending = links.endpoint(board(BOARD_1), { timeoutMs: 5_000, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('operator')), 30);
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'cancelled' });
      expect(runner.started[0]!.stopped).to.equal(true);
    });

    it('a board without a tty on interface C cannot get a link', async () => {
      const runner = new FakeCommandRunner([{ prefix: 'ip -j addr show', result: { stdout: '[]' } }]);
      const links = new SlipServiceLinks({ runner, attachedBoards: () => 1 });
      const error = await links.endpoint({ ...board(BOARD_1), ttys: {} }, { timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ code: 'service-uart-missing' });
    });
  });
});
