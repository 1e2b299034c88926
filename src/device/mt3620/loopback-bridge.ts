import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { spliceSockets } from './socket-splice.js';

/**
 * The rig's end of a board's link namespace: a TCP listener on 127.0.0.1 (an
 * ephemeral port) whose every connection is piped to the in-namespace
 * forwarder's Unix socket. The device REST client then dials
 * https://127.0.0.1:PORT like an emulated board's, TLS end to end with the
 * board (the bridge and the forwarder only move bytes).
 */
export interface LoopbackBridge {
  readonly port: number;
  close(): Promise<void>;
}

export type OpenLoopbackBridge = (socketPath: string) => Promise<LoopbackBridge>;

export const openLoopbackBridge: OpenLoopbackBridge = (socketPath) =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    const server = createServer((client) => spliceSockets(client, connect({ path: socketPath }), sockets));
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      // A daemon with boards bridged must still be able to exit.
      server.unref();
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
