import type { BoardState } from '../emulated-board.js';
import type { BoardServiceFactory, EmulatorHostOptions } from '../emulator-host.js';
import { DeviceSettingsStore } from './device-settings.js';
import { MemoryModel } from './memory-statistics.js';
import { createRestApp } from './rest-app.js';
import { ensureRestCa, loadRestCa } from './rest-ca.js';
import type { RestContext } from './rest-route.js';
import { RestServer } from './rest-server.js';
import { issueRestServerIdentity, REST_SERVER_ADDRESS, type RestServerIdentity } from './rest-server-identity.js';
import { StagingArea } from './staging-area.js';

/**
 * The device REST API of one emulated board, as a board service: an HTTPS
 * server on its own loopback port, serving the board's state. Its line in
 * `emulator run --json` gains:
 *   restPort  the port on 127.0.0.1
 *   restUrl   https://127.0.0.1:<port>, the base URL a client takes
 *   restCa    path of the rig's REST CA certificate, the one clients pin
 * One server certificate is issued per emulator start (per rig) and shared by
 * its boards.
 */
const identities = new WeakMap<EmulatorHostOptions, Promise<RestServerIdentity>>();

function rigIdentity(stateDir: string, options: EmulatorHostOptions): Promise<RestServerIdentity> {
  let identity = identities.get(options);
  if (!identity) {
    identity = ensureRestCa(stateDir).then(() => issueRestServerIdentity(loadRestCa(stateDir)));
    identities.set(options, identity);
  }
  return identity;
}

export const restService: BoardServiceFactory = async ({ hosted, stateDir, options }) => {
  const board = hosted.board;
  const caPath = await ensureRestCa(stateDir);
  const identity = await rigIdentity(stateDir, options);
  const context: RestContext = {
    board,
    settings: new DeviceSettingsStore(board),
    staging: new StagingArea(),
    history: hosted.deviceLog,
    memory: new MemoryModel(board),
    traffic: { requests: 0, bytes: 0 },
  };
  const isUp = (): boolean => board.state === 'ready';
  const server = await RestServer.listen({ identity, app: createRestApp(context, isUp), isUp, name: hosted.name, host: REST_SERVER_ADDRESS });
  const onState = (state: BoardState): void => {
    if (state === 'ready') return;
    // A reset loses what was staged in RAM, and every connection with it.
    context.staging.clear();
    server.dropConnections();
  };
  board.on('state', onState);
  return {
    name: 'rest-api',
    surfaces: () => ({ restPort: server.port, restUrl: `https://${REST_SERVER_ADDRESS}:${server.port}`, restCa: caPath }),
    close: async () => {
      board.off('state', onState);
      await server.close();
    },
  };
};
