import { InputError } from '../../util/failure.js';
import { ENTRY, ENTRY_AREA_SIZE, ENTRY_HEADER_SIZE } from './device-log-layout.js';
import { logCategory, logMessage, type LogMessage } from './log-manifests.js';
import { encodeLogParams, type GuidByteOrder, type LogArg } from './log-param-codec.js';

/**
 * One device-log entry's bytes (device-log-format.md section 3): a 12-byte
 * header (u16 length, u8 0, u8 priority, u16 category, u16 message, u32
 * timestamp in ms) and the packed parameters.
 */
export interface LogEntryFields {
  /** 1 Fatal .. 6 Trace (a writer never uses 0 None). */
  priority: number;
  categoryId: number;
  messageId: number;
  /** Milliseconds, u32: uptime since boot on a device (section 6). */
  timestampMs: number;
  params: Buffer;
}

/** The largest entry a bank holds: one filling its whole entry area. */
export const MAX_ENTRY_SIZE = ENTRY_AREA_SIZE;

export function encodeLogEntry(fields: LogEntryFields): Buffer {
  const length = ENTRY_HEADER_SIZE + fields.params.length;
  if (length > MAX_ENTRY_SIZE) throw new InputError('log-entry-too-long', `a log entry of ${length} bytes does not fit in a bank (at most ${MAX_ENTRY_SIZE})`);
  if (!Number.isInteger(fields.priority) || fields.priority < 1 || fields.priority > 6) throw new InputError('log-priority', `log priority must be 1..6, got ${fields.priority}`);
  for (const [field, value] of [['category', fields.categoryId], ['message', fields.messageId]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xfffe) throw new InputError('log-id', `log ${field} id must be 0..65534, got ${value}`);
  }
  const out = Buffer.alloc(length);
  out.writeUInt16LE(length, ENTRY.length);
  out.writeUInt8(0, ENTRY.reserved);
  out.writeUInt8(fields.priority, ENTRY.priority);
  out.writeUInt16LE(fields.categoryId, ENTRY.category);
  out.writeUInt16LE(fields.messageId, ENTRY.message);
  out.writeUInt32LE(clampTimestamp(fields.timestampMs), ENTRY.timestamp);
  fields.params.copy(out, ENTRY_HEADER_SIZE);
  return out;
}

/**
 * An entry for a manifest message with its arguments in the manifest's order.
 * Refuses a category the parser cannot read (11 applaunch) and arguments that
 * do not fit the message's parameter types.
 */
export function encodeLogMessage(message: LogMessage, args: readonly LogArg[], options: { priority: number; timestampMs: number; guidOrder?: GuidByteOrder }): Buffer {
  const where = `${message.categoryName}/${message.name}`;
  if (logCategory(message.categoryId)?.unusable) throw new InputError('log-category', `${where}: category ${message.categoryId} stops Microsoft's parser; never written`);
  if (logMessage(message.categoryId, message.id) !== message) throw new InputError('log-message', `${where} is not a message of the OS 24.06 manifests`);
  return encodeLogEntry({
    priority: options.priority,
    categoryId: message.categoryId,
    messageId: message.id,
    timestampMs: options.timestampMs,
    params: encodeLogParams(message.params, args, where, options.guidOrder),
  });
}

/** u32 milliseconds: about 49.7 days, then the field holds its maximum. */
function clampTimestamp(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(Math.floor(ms), 0xffffffff);
}
