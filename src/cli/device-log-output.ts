import { decodeDeviceLog, type DecodedDeviceLog } from '../firmware/device-log/device-log-decoder.js';
import { RigError } from '../util/failure.js';
import { UsageError } from './action.js';

/**
 * How `sphere-rig device log` shows a decoded device log: the parser's lines on
 * stdout (problems on stderr, with their byte offsets), or one JSON object.
 * Loaded only when the command runs: the manifests are large.
 */
export function printDeviceLog(log: DecodedDeviceLog, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: true, ...log })}\n`);
    return;
  }
  for (const problem of log.problems) process.stderr.write(`warning: byte offset ${problem.offset}: ${problem.message}\n`);
  if (!log.entries.length) process.stderr.write('the log holds no entries\n');
  process.stdout.write(log.entries.map((entry) => `${entry.line}\n`).join(''));
}

/** A saved log given with --in: malformed is the caller's mistake (exit 2). */
export function decodeDeviceLogFile(bytes: Buffer, path: string): DecodedDeviceLog {
  try {
    return decodeDeviceLog(bytes);
  } catch (error) {
    if (error instanceof RigError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
}
