import { InputError } from '../../util/failure.js';
import type { BoardService, BoardServiceFactory } from '../emulator-host.js';
import { DaaConnection } from './daa-connection.js';
import { PlutonAttester } from './pluton-attester.js';

/**
 * Device authentication for a hosted board: a PlutonAttester talking to the
 * DAA service named by the `daaUrl` setting (`emulator run --daa-url URL`).
 * Without the setting the service stays idle and the board never has a
 * certificate. Control commands on the board's channel:
 *   attest        attest now; answers the outcome and the resulting deviceAuth
 *   device-auth   the current deviceAuth and the last outcome, without attesting
 */
export const DAA_URL_SETTING = 'daaUrl';

const none = { type: 'object', additionalProperties: false, properties: {} } as const;

export const attestationService: BoardServiceFactory = async ({ hosted, options }) => {
  const url = options.settings?.[DAA_URL_SETTING];
  const attester = url ? new PlutonAttester(hosted.board, new DaaConnection(url)) : undefined;
  hosted.control.register('attest', {
    schema: none,
    handler: async (_params, { signal }) => {
      if (!attester) throw new InputError('daa-not-configured', 'this emulator has no DAA service: run it with --daa-url http://127.0.0.1:PORT');
      return { ...(await attester.attestNow(signal)) };
    },
  });
  hosted.control.register('device-auth', {
    schema: none,
    handler: () => ({ configured: attester !== undefined, deviceAuth: { ...hosted.board.deviceAuth }, lastOutcome: attester?.lastOutcome ?? null }),
  });
  const service: BoardService = {
    name: 'attestation',
    surfaces: () => (url ? { daaUrl: url } : {}),
    close: async () => attester?.close(),
  };
  return service;
};
