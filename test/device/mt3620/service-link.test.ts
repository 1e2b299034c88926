import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { linkForBoard, parseIpJsonAddr, parseIpOneLineAddr, parseSlipInterfaceNames } from '../../../src/device/mt3620/ip-addr-output.js';
import { addressNamespacedLinkCommands, forwarderCommand, namespaceFor, parseNamespaceList, slattachInNamespaceCommand } from '../../../src/device/mt3620/link-namespace-commands.js';
import type { LoopbackBridge } from '../../../src/device/mt3620/loopback-bridge.js';
import { SlipServiceLinks, type SlipServiceLinksOptions } from '../../../src/device/mt3620/service-link.js';
import { configureLineCommand } from '../../../src/device/mt3620/slip-link-commands.js';
import { REAL_DEVICE_CA_PATH } from '../../../src/device/rest/device-rest-client.js';
import { parseCertificates } from '../../../src/pki/certificate.js';
import type { DiscoveredBoard } from '../../../src/link/usb-discovery.js';
import { FakeCommandRunner, type ScriptedAnswer } from './helpers/fake-command-runner.js';
import { BOARD_1, BOARD_2, byId, fixtureText } from './helpers/recordings.js';

/**
 * The SLIP service links of real boards (SLIP on interface C, 921600 baud,
 * RTS/CTS), one network namespace per board: host 192.168.35.1, device
 * 192.168.35.2 in each. Commands are built by pure functions and run through
 * a recording runner that replays recorded `ip` outputs: nothing is executed,
 * no namespace is created and no packet is sent. The rig's loopback end of
 * each forwarder is a recorded stand-in that listens on nothing.
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

const FORWARDER = { command: ['/usr/bin/node', '/opt/sphere-rig/dist/src/device/mt3620/namespace-forwarder-main.js'], uid: 1000, gid: 1000 };
const RUN_DIR = '/run/user/1000/sphere-rig-links';

/** Recorded bridges: each gets the next port and says when it was closed. */
function recordedBridges() {
  const opened: Array<{ socketPath: string; port: number; closed: boolean }> = [];
  const open = async (socketPath: string): Promise<LoopbackBridge> => {
    const entry = { socketPath, port: 41000 + opened.length, closed: false };
    opened.push(entry);
    return { port: entry.port, close: async () => void (entry.closed = true) };
  };
  return { opened, open };
}

function links(runner: FakeCommandRunner, extra: Partial<SlipServiceLinksOptions> = {}) {
  const bridges = recordedBridges();
  const provider = new SlipServiceLinks({ runner, attachedBoards: () => 2, runDir: RUN_DIR, forwarder: FORWARDER, openBridge: bridges.open, pollMs: 1, ...extra });
  return { provider, bridges };
}

/** A host with no SLIP link and no namespace yet; slattach's sl0 shows up in `link` after two polls. */
function freshHost(ns: string, where: 'host' | 'namespace', extra: ScriptedAnswer[] = []): ScriptedAnswer[] {
  const noSlip = { stdout: fixtureText('ip-j-link-no-slip.json') };
  const emptyNs = { stdout: fixtureText('ip-n-j-link-empty-namespace.json') };
  const newSl0 = { stdout: fixtureText('ip-j-link-new-sl0.json') };
  return [
    ...extra,
    { prefix: 'ip -j addr show', result: { stdout: fixtureText('ip-j-addr-no-links.json') } },
    { prefix: 'ip -j netns list', result: { stdout: '' } },
    { prefix: `ip -n ${ns} -j addr show`, result: { stdout: fixtureText('ip-n-j-link-empty-namespace.json') } },
    { prefix: 'ip -j link show', results: where === 'host' ? [noSlip, noSlip, newSl0] : [noSlip] },
    { prefix: `ip -n ${ns} -j link show`, results: where === 'namespace' ? [emptyNs, emptyNs, newSl0] : [emptyNs] },
  ];
}

describe('the SLIP service links of real boards, one network namespace per board', () => {
  describe('commands', () => {
    it('names each board’s namespace after its USB serial', () => {
      expect(namespaceFor(BOARD_1)).to.equal(`sphere-rig-${BOARD_1}`);
      expect(namespaceFor('AS 1/2')).to.equal('sphere-rig-AS_1_2');
    });

    it('sets the line up with stty (921600 raw 8N1, RTS/CTS) and runs slattach inside the namespace, only switching the line to SLIP', () => {
      const tty = byId(BOARD_1, 2);
      expect(configureLineCommand(tty)).to.deep.equal({ file: 'stty', args: ['-F', tty, '921600', 'raw', '-echo', 'cs8', '-cstopb', '-parenb', 'crtscts', 'clocal'] });
      expect(slattachInNamespaceCommand(namespaceFor(BOARD_1), tty)).to.deep.equal({ file: 'ip', args: ['netns', 'exec', `sphere-rig-${BOARD_1}`, 'slattach', '-m', '-p', 'slip', tty] });
    });

    it('addresses every board’s link alike inside its namespace: host .1, device .2/32, tagged, up; never .3', () => {
      for (const serial of [BOARD_1, BOARD_2]) {
        const ns = namespaceFor(serial);
        expect(addressNamespacedLinkCommands(ns, 'sl0', serial).map((c) => [c.file, ...c.args].join(' '))).to.deep.equal([
          `ip -n ${ns} link set dev lo up`,
          `ip -n ${ns} addr add 192.168.35.1 peer 192.168.35.2/32 dev sl0`,
          `ip -n ${ns} link set dev sl0 alias sphere-rig:${serial}`,
          `ip -n ${ns} link set dev sl0 up`,
        ]);
      }
    });

    it('starts the forwarder inside the namespace, listening on a Unix socket, connecting to 192.168.35.2:443, as the rig’s user', () => {
      const ns = namespaceFor(BOARD_1);
      expect(forwarderCommand(ns, `${RUN_DIR}/${ns}.sock`, FORWARDER)).to.deep.equal({
        file: 'ip',
        args: ['netns', 'exec', ns, ...FORWARDER.command, '--listen', `${RUN_DIR}/${ns}.sock`, '--connect', '192.168.35.2:443', '--uid', '1000', '--gid', '1000'],
      });
    });

    it('sudo mode runs every privileged command through sudo -n, with another slattach', () => {
      const settings = { sudo: true, slattach: '/opt/azurespheresdk/DeviceConnection/azsphere_slattach' };
      const ns = namespaceFor(BOARD_1);
      expect(slattachInNamespaceCommand(ns, '/dev/ttyUSB2', settings)).to.deep.equal({
        file: 'sudo',
        args: ['-n', 'ip', 'netns', 'exec', ns, '/opt/azurespheresdk/DeviceConnection/azsphere_slattach', '-m', '-p', 'slip', '/dev/ttyUSB2'],
      });
      expect(addressNamespacedLinkCommands(ns, 'sl0', BOARD_1, settings)[3]).to.deep.equal({ file: 'sudo', args: ['-n', 'ip', '-n', ns, 'link', 'set', 'dev', 'sl0', 'up'] });
      expect(configureLineCommand('/dev/ttyUSB2', settings).file).to.equal('stty');
    });

    it('reads `ip -j netns list`, its empty output, and old iproute2’s text', () => {
      expect(parseNamespaceList(fixtureText('ip-j-netns-list-leftovers.json'))).to.deep.equal([`sphere-rig-${BOARD_2}`, 'lab-vpn', `sphere-rig-${BOARD_1}`]);
      expect(parseNamespaceList('')).to.deep.equal([]);
      expect(parseNamespaceList(`sphere-rig-${BOARD_1} (id: 0)\nlab-vpn\n`)).to.deep.equal([`sphere-rig-${BOARD_1}`, 'lab-vpn']);
    });
  });

  describe('parsing ip output', () => {
    it('finds tagged links and their boards in `ip -j addr show`', () => {
      expect(parseIpJsonAddr(fixtureText('ip-n-j-addr-namespaced-link.json'))).to.deep.equal([
        { ifname: 'sl0', up: true, linkType: 'slip', alias: `sphere-rig:${BOARD_2}`, hostAddress: '192.168.35.1', deviceAddress: '192.168.35.2', prefixLength: 32 },
      ]);
      expect(parseIpJsonAddr(fixtureText('ip-j-addr-two-links.json')).map((l) => l.alias)).to.deep.equal([`sphere-rig:${BOARD_1}`, `sphere-rig:${BOARD_2}`]);
    });

    it('reads links from `ip -o addr show` (old iproute2), without flags or aliases', () => {
      expect(parseIpOneLineAddr(fixtureText('ip-o-addr-two-links.txt')).map((l) => [l.ifname, l.hostAddress, l.alias])).to.deep.equal([
        ['sl0', '192.168.35.1', null],
        ['sl1', '192.168.35.1', null],
      ]);
    });

    it("recognises azsphere_connect.sh's link (192.168.35.1/24, no peer) as serving the board at .2", () => {
      const [link] = parseIpJsonAddr(fixtureText('ip-j-addr-azsphere-connect.json'));
      expect(link).to.deep.include({ ifname: 'sl0', alias: null, deviceAddress: '192.168.35.2', prefixLength: 24 });
      expect(linkForBoard([link!], BOARD_1, true)).to.equal(link);
      expect(linkForBoard([link!], BOARD_1, false), 'with several boards an untagged link is nobody’s').to.equal(undefined);
      expect(parseIpJsonAddr(fixtureText('ip-j-addr-no-links.json'))).to.deep.equal([]);
    });

    it('spots the interface slattach created in `ip -j link show`', () => {
      expect(parseSlipInterfaceNames(fixtureText('ip-j-link-no-slip.json'))).to.deep.equal([]);
      expect(parseSlipInterfaceNames(fixtureText('ip-j-link-new-sl0.json'))).to.deep.equal(['sl0']);
    });
  });

  describe('bring-up, reuse and teardown (recorded outputs, nothing executed)', () => {
    it('creates the board’s namespace, brings the link up inside it and reaches the board through the loopback bridge', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'host'));
      const { provider, bridges } = links(runner);
      const endpoint = await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      expect(endpoint).to.deep.include({ baseUrl: 'https://127.0.0.1:41000', link: `${ns}/sl0`, how: 'brought-up', namespace: ns });
      // A second forwarder and bridge carry the device's app output port (2342) the same way.
      expect(endpoint.appOutput).to.deep.equal({ host: '127.0.0.1', port: 41001 });
      expect(endpoint.caPem).to.equal(readFileSync(REAL_DEVICE_CA_PATH, 'utf8'));
      expect(parseCertificates(endpoint.caPem)[0]!.subject).to.contain('Azure Sphere Device');
      const tty = byId(BOARD_1, 2);
      const socket = `${RUN_DIR}/${ns}.sock`;
      expect(runner.log).to.deep.equal([
        'ip -j netns list',
        `ip netns add ${ns}`,
        `ip -n ${ns} -j addr show`,
        'ip -j link show',
        `ip -n ${ns} -j link show`,
        `stty -F ${tty} 921600 raw -echo cs8 -cstopb -parenb crtscts clocal`,
        `start ip netns exec ${ns} slattach -m -p slip ${tty}`,
        'ip -j link show',
        `ip -n ${ns} -j link show`,
        'ip -j link show',
        `ip -n ${ns} -j link show`,
        // The SLIP driver registered sl0 in the host's namespace: it is moved into the board's.
        `ip link set dev sl0 netns ${ns}`,
        `ip -n ${ns} link set dev lo up`,
        `ip -n ${ns} addr add 192.168.35.1 peer 192.168.35.2/32 dev sl0`,
        `ip -n ${ns} link set dev sl0 alias sphere-rig:${BOARD_1}`,
        `ip -n ${ns} link set dev sl0 up`,
        `start ip netns exec ${ns} ${FORWARDER.command.join(' ')} --listen ${socket} --connect 192.168.35.2:443 --uid 1000 --gid 1000`,
        `start ip netns exec ${ns} ${FORWARDER.command.join(' ')} --listen ${RUN_DIR}/${ns}-app-output.sock --connect 192.168.35.2:2342 --uid 1000 --gid 1000`,
      ]);
      expect(bridges.opened).to.deep.equal([
        { socketPath: socket, port: 41000, closed: false },
        { socketPath: `${RUN_DIR}/${ns}-app-output.sock`, port: 41001, closed: false },
      ]);
      expect(runner.log.join('\n')).not.to.contain('192.168.35.3');
    });

    it('a link the kernel created inside the namespace is not moved', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'namespace'));
      const { provider } = links(runner);
      await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      expect(runner.log.filter((l) => l.includes(' netns ') && l.startsWith('ip link set'))).to.deep.equal([]);
      expect(runner.log).to.include(`ip -n ${ns} addr add 192.168.35.1 peer 192.168.35.2/32 dev sl0`);
    });

    it('two boards: each in its own namespace, each at 192.168.35.2, each with its own loopback port', async () => {
      const ns1 = namespaceFor(BOARD_1);
      const ns2 = namespaceFor(BOARD_2);
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j netns list', results: [{ stdout: '' }, { stdout: JSON.stringify([{ name: ns1 }]) }] },
        { prefix: `ip -n ${ns2} -j addr show`, result: { stdout: fixtureText('ip-n-j-addr-namespaced-link.json') } },
        ...freshHost(ns1, 'host'),
      ]);
      const { provider, bridges } = links(runner);
      const first = await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      const second = await provider.endpoint(board(BOARD_2, 6), { timeoutMs: 5_000 });
      expect([first.baseUrl, second.baseUrl]).to.deep.equal(['https://127.0.0.1:41000', 'https://127.0.0.1:41002']);
      expect([first.appOutput?.port, second.appOutput?.port]).to.deep.equal([41001, 41003]);
      expect([first.namespace, second.namespace]).to.deep.equal([ns1, ns2]);
      // Board 2's namespace had a link up for it already (tagged, .1 peer .2): reused, only a forwarder is started.
      expect(second).to.deep.include({ how: 'existing-link', link: `${ns2}/sl0` });
      expect(runner.log).to.include(`ip netns add ${ns2}`);
      expect(runner.log.filter((l) => l.startsWith('start ')).map((l) => l.split(' ').slice(0, 6).join(' '))).to.deep.equal([
        `start ip netns exec ${ns1} slattach`,
        `start ip netns exec ${ns1} /usr/bin/node`,
        `start ip netns exec ${ns1} /usr/bin/node`,
        `start ip netns exec ${ns2} /usr/bin/node`,
        `start ip netns exec ${ns2} /usr/bin/node`,
      ]);
      expect(bridges.opened.map((b) => b.socketPath)).to.deep.equal([
        `${RUN_DIR}/${ns1}.sock`,
        `${RUN_DIR}/${ns1}-app-output.sock`,
        `${RUN_DIR}/${ns2}.sock`,
        `${RUN_DIR}/${ns2}-app-output.sock`,
      ]);
    });

    it('reuses what it set up: a second call for the board runs nothing', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'host'));
      const { provider } = links(runner);
      const first = await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      const commands = runner.log.length;
      expect(await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 })).to.equal(first);
      expect(runner.log).to.have.length(commands);
    });

    it('an existing namespace is reused, not added again', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'host', [{ prefix: 'ip -j netns list', result: { stdout: JSON.stringify([{ name: ns }]) } }]));
      const { provider } = links(runner);
      await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      expect(runner.log.filter((l) => l.startsWith('ip netns add'))).to.deep.equal([]);
    });

    it('release (board gone, or the rig closing) closes the bridge, stops forwarder and slattach and deletes the namespace', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'host'));
      const { provider, bridges } = links(runner);
      await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      expect(runner.started.map((s) => s.stopped)).to.deep.equal([false, false, false]);
      await provider.close();
      expect(bridges.opened.map((b) => b.closed)).to.deep.equal([true, true]);
      expect(runner.started.map((s) => s.stopped), 'slattach and both forwarders').to.deep.equal([true, true, true]);
      expect(runner.log.at(-1)).to.equal(`ip netns del ${ns}`);
      await provider.release(BOARD_1);
      expect(runner.log.filter((l) => l.startsWith('ip netns del'))).to.have.length(1);
    });

    it('at daemon start, namespaces a crashed daemon left are taken down: their processes terminated, their names deleted; others are left alone', async () => {
      const ns1 = namespaceFor(BOARD_1);
      const ns2 = namespaceFor(BOARD_2);
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j netns list', result: { stdout: fixtureText('ip-j-netns-list-leftovers.json') } },
        { prefix: `sudo -n ip netns pids ${ns2}`, result: { stdout: '31337\n31338\n' } },
        { prefix: `sudo -n ip netns pids ${ns1}`, result: { stdout: '' } },
      ]);
      const { provider } = links(runner, { commands: { sudo: true } });
      expect(await provider.cleanUpLeftovers({ timeoutMs: 5_000 })).to.deep.equal([ns2, ns1]);
      expect(runner.log).to.deep.equal([
        'ip -j netns list',
        `sudo -n ip netns pids ${ns2}`,
        'sudo -n kill -TERM 31337',
        'sudo -n kill -TERM 31338',
        `sudo -n ip netns del ${ns2}`,
        `sudo -n ip netns pids ${ns1}`,
        `sudo -n ip netns del ${ns1}`,
      ]);
    });

    it('a lone board adopts a lone untagged link in the host namespace (azsphere_connect.sh’s), at .2, changing nothing', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { stdout: fixtureText('ip-j-addr-azsphere-connect.json') } },
        { prefix: 'ip -j netns list', result: { stdout: '' } },
      ]);
      const { provider } = links(runner, { attachedBoards: () => 1 });
      const endpoint = await provider.endpoint(board(BOARD_1), { timeoutMs: 1_000 });
      expect(endpoint).to.deep.include({ baseUrl: 'https://192.168.35.2', link: 'sl0', how: 'existing-link' });
      expect(runner.log).to.deep.equal(['ip -j addr show', 'ip -j netns list']);
    });

    it('falls back to `ip -o addr` where iproute2 has no JSON', async () => {
      const runner = new FakeCommandRunner([
        { prefix: 'ip -j addr show', result: { code: 1, stderr: 'Option "-j" is unknown, try "ip -help".' } },
        { prefix: 'ip -o -4 addr show', result: { stdout: fixtureText('ip-o-addr-two-links.txt') } },
        { prefix: 'ip -j netns list', result: { code: 1, stderr: 'Option "-j" is unknown' } },
      ]);
      const { provider } = links(runner);
      expect((await provider.links({ timeoutMs: 1_000 })).map((l) => l.ifname)).to.deep.equal(['sl0', 'sl1']);
    });

    it('a namespace refused for lack of CAP_SYS_ADMIN says what to do', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'host', [{ prefix: `ip netns add ${ns}`, result: { code: 1, stderr: 'mount --make-shared /run/netns failed: Operation not permitted\n' } }]));
      const { provider } = links(runner);
      const error = await provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'service-link-permission' });
      expect((error as Error).message).to.contain('CAP_SYS_ADMIN').and.contain('CAP_NET_ADMIN').and.contain('docs/real-boards.md');
    });

    it('a slattach refused for lack of CAP_NET_ADMIN says what to do, and starts no forwarder', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'namespace', [{ prefix: `ip -n ${ns} -j link show`, result: { stdout: fixtureText('ip-n-j-link-empty-namespace.json') } }]));
      const { provider } = links(runner, { pollMs: 5 });
      const pending = provider.endpoint(board(BOARD_1), { timeoutMs: 5_000 });
      while (runner.started.length === 0) await new Promise((resolve) => setImmediate(resolve));
      runner.started[0]!.exit({ code: 1, stderr: 'SLIP_set_disc(1): Operation not permitted\n' });
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'service-link-permission' });
      expect(runner.started).to.have.length(1);
    });

    it('a bring-up waiting for slattach honours cancellation and stops the slattach it started', async () => {
      const ns = namespaceFor(BOARD_1);
      const runner = new FakeCommandRunner(freshHost(ns, 'namespace', [{ prefix: `ip -n ${ns} -j link show`, result: { stdout: fixtureText('ip-n-j-link-empty-namespace.json') } }]));
      const { provider } = links(runner, { pollMs: 5 });
      const controller = new AbortController();
      const pending = provider.endpoint(board(BOARD_1), { timeoutMs: 5_000, signal: controller.signal });
      while (runner.started.length === 0) await new Promise((resolve) => setImmediate(resolve));
      controller.abort(new Error('operator'));
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'cancelled' });
      expect(runner.started[0]!.stopped).to.equal(true);
    });

    it('a board without a tty on interface C cannot get a link', async () => {
      const runner = new FakeCommandRunner([{ prefix: 'ip -j addr show', result: { stdout: '[]' } }]);
      const { provider } = links(runner);
      const error = await provider.endpoint({ ...board(BOARD_1), ttys: {} }, { timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ code: 'service-uart-missing' });
    });
  });
});
