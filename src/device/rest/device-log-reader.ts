import { decodeDeviceLog, type DecodedDeviceLog } from '../../firmware/device-log/device-log-decoder.js';
import { RigError } from '../../util/failure.js';
import type { CallOptions, DeviceRestClient } from './device-rest-client.js';

/**
 * The host's reading of a board's device log: GET /log (the device's bytes,
 * device-log-format.md), decoded as Microsoft's parser reads it. A log the
 * decoder refuses is the board's fault: a device-fault naming the byte offset.
 */
export interface DeviceLogReading {
  bytes: Buffer;
  log: DecodedDeviceLog;
}

export async function readDeviceLog(client: DeviceRestClient, options?: CallOptions): Promise<DeviceLogReading> {
  const bytes = await client.log(options);
  return { bytes, log: decodeBoardLog(bytes) };
}

/** Decodes bytes a board sent; a malformed log becomes a device-fault. */
export function decodeBoardLog(bytes: Buffer): DecodedDeviceLog {
  try {
    return decodeDeviceLog(bytes);
  } catch (error) {
    if (!(error instanceof RigError)) throw error;
    throw new RigError('device-fault', 'device-log-malformed', `the board's device log (${bytes.length} bytes) is malformed: ${error.message}`, error.details, { cause: error });
  }
}
