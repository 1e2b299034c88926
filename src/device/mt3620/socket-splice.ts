import type { Socket } from 'node:net';

/**
 * Joins two sockets both ways and ends both when either ends or fails; `live`
 * holds them meanwhile, so the owner can destroy every open pair when it stops.
 * The loopback bridge and the in-namespace forwarder both carry connections so.
 */
export function spliceSockets(client: Socket, upstream: Socket, live: Set<Socket>): void {
  live.add(client).add(upstream);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
    live.delete(client);
    live.delete(upstream);
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  client.pipe(upstream);
  upstream.pipe(client);
}
