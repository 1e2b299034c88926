import { createServer, type Socket } from 'node:net';
import type { BoardState } from '../emulated-board.js';
import type { BoardServiceFactory } from '../emulator-host.js';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';

const log = componentLogger('app-output');

/**
 * The debug output port of one emulated board. On a real board a high-level
 * app started in debug mode writes its output to TCP port 2342 on the device's
 * service-link address (next to gdbserver on 2345); no UART carries it. Here
 * the port is a loopback one beside the REST API, announced in `emulator run
 * --json` as `appOutputPort`. Every connected client gets each line; a client
 * that stops reading is cut off once it owes more than MAX_BACKLOG_BYTES, and a
 * reset drops every connection, as the device's network stack would. Output
 * written while nobody is connected waits (the last HELD_LINES lines) for the
 * next client, as a debugged app on a real board waits for its host.
 */
const HOST = '127.0.0.1';
const MAX_CLIENTS = 8;
const MAX_BACKLOG_BYTES = 1024 * 1024;
const HELD_LINES = 256;

export const appOutputService: BoardServiceFactory = async ({ hosted }) => {
  const board = hosted.board;
  const clients = new Set<Socket>();
  let held: string[] = [];
  const server = createServer((socket) => {
    if (clients.size >= MAX_CLIENTS) {
      socket.destroy();
      return;
    }
    clients.add(socket);
    if (held.length) socket.write(held.join(''));
    held = [];
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => socket.destroy());
    // The port is output only; whatever a client sends is read and dropped.
    socket.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new RigError('infra-error', 'app-output-listen-failed', `${hosted.name}: cannot listen for app output: ${error.message}`, {}, { cause: error })));
    server.listen(0, HOST, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const onOutput = (_componentId: string, text: string): void => {
    if (clients.size === 0) {
      held.push(`${text}\n`);
      if (held.length > HELD_LINES) held.shift();
      return;
    }
    for (const socket of clients) {
      if (socket.writableLength > MAX_BACKLOG_BYTES) {
        log.warn('client not reading: dropped', { board: hosted.name });
        socket.destroy();
        continue;
      }
      socket.write(`${text}\n`);
    }
  };
  const onState = (state: BoardState): void => {
    if (state === 'ready') return;
    held = [];
    for (const socket of clients) socket.destroy();
  };
  board.on('app-output', onOutput);
  board.on('state', onState);
  return {
    name: 'app-output',
    surfaces: () => ({ appOutputPort: port }),
    close: async () => {
      board.off('app-output', onOutput);
      board.off('state', onState);
      for (const socket of clients) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
