import { chmodSync, chownSync, rmSync } from 'node:fs';
import { connect, createServer, isIPv4, type Socket } from 'node:net';
import { spliceSockets } from './socket-splice.js';
import { isServiceLinkAddress } from '../rest/device-link-address.js';
import { isLoopbackAddress } from '../../util/loopback-address.js';

/**
 * The program the rig starts inside a board's link namespace
 * (`ip netns exec sphere-rig-<serial> node namespace-forwarder-main.js ...`):
 * it listens on a Unix socket and pipes each connection to the board's REST
 * API over that namespace's SLIP link. A socket path is seen from every
 * network namespace, so the rig (in the host's) reaches it; TCP in the
 * namespace cannot be. Started as root in sudo mode, it gives the socket to
 * the rig's user and drops to that user once it listens.
 *
 *   --listen PATH --connect 192.168.35.2:443 [--uid N --gid N]
 *
 * It connects only to a service-link address (or loopback, for tests), and
 * ends on SIGTERM (the rig's release; after a crash, the next daemon's
 * clean-up of leftover namespaces).
 */
function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function fail(message: string): never {
  process.stderr.write(`namespace-forwarder: ${message}\n`);
  process.exit(2);
}

const listen = argument('--listen') ?? fail('--listen PATH is required');
const target = argument('--connect') ?? fail('--connect HOST:PORT is required');
const [host, portText] = target.split(':');
const port = Number(portText);
if (!host || !isIPv4(host) || !(isServiceLinkAddress(host) || isLoopbackAddress(host)) || !Number.isInteger(port) || port < 1 || port > 65535) {
  fail(`--connect ${target}: only a service-link (192.168.35.x) or loopback IPv4 address with a port`);
}
const uid = argument('--uid') === undefined ? undefined : Number(argument('--uid'));
const gid = argument('--gid') === undefined ? undefined : Number(argument('--gid'));

const sockets = new Set<Socket>();
const server = createServer((client) => spliceSockets(client, connect({ host, port }), sockets));

rmSync(listen, { force: true });
server.listen(listen, () => {
  chmodSync(listen, 0o600);
  if (uid !== undefined && gid !== undefined && process.getuid?.() === 0) {
    chownSync(listen, uid, gid);
    // Nothing below needs root: connecting on the link is open to anyone in the namespace.
    process.setgid?.(gid);
    process.setuid?.(uid);
  }
  process.stdout.write(`listening ${listen}\n`);
});
server.on('error', (error) => fail(`${listen}: ${error.message}`));

const stop = (): void => {
  for (const socket of sockets) socket.destroy();
  server.close();
  rmSync(listen, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
