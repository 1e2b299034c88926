import type { Board } from '../../device/board.js';
import { DeviceRestClient } from '../../device/rest/device-rest-client.js';
import { RigError, type FailureClass } from '../../util/failure.js';

/**
 * Services up, as a real board shows it: its device REST API answers (with its
 * OS version). Gives that version, or undefined for a board with no REST
 * endpoint to ask; a board that does not answer fails `services-down` with the
 * caller's failure class and words (`what` leads the message).
 */
export async function servicesAnswer(
  board: Board,
  options: { signal: AbortSignal; timeoutMs: number },
  failure: { failureClass: FailureClass; what: string },
): Promise<string | undefined> {
  const endpoint = board.restEndpoint();
  if (!endpoint) return undefined;
  const rest = new DeviceRestClient({ baseUrl: endpoint.baseUrl, caPem: endpoint.caPem });
  try {
    return await rest.osVersion(options);
  } catch (error) {
    throw new RigError(failure.failureClass, 'services-down', `${failure.what}: ${(error as Error).message}`, {}, { cause: error });
  } finally {
    rest.close();
  }
}
