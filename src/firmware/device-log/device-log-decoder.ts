import { InputError } from '../../util/failure.js';
import { BANK_SIZE, COUNTER_OFFSET, ENTRY, ENTRY_AREA_SIZE, ENTRY_HEADER_SIZE, ERASED_U16, LAST_ENTRY_START } from './device-log-layout.js';
import { formatLogLine } from './device-log-line.js';
import { LOG_PRIORITY_NAMES, logCategory } from './log-manifests.js';
import { decodeLogParam, type DecodedLogParam } from './log-param-codec.js';

/**
 * Reads a device log (GET /log, AzureSphere_DeviceLog_nnn.bin) the way
 * Microsoft's parse-devicelog.py does (device-log-format.md sections 2-5):
 * from the bank with the smallest counter below 0xFFFF to the end, then from
 * bank 0; erased banks skipped; inside a bank, entries until a length of
 * 0xFFFF or offset 4080. Where the parser would crash, loop or read garbage
 * (a file that is not whole banks, a length below 12 or reaching the footer, a
 * priority above 6, a parameter running past its entry, invalid UTF-8) this
 * throws an InputError naming the byte offset. Entries the manifests do not
 * know are decoded as the parser names them and reported in `problems`.
 */
export interface DeviceLogEntry {
  /** Byte offset of the entry in the file. */
  offset: number;
  bank: number;
  length: number;
  priority: number;
  priorityName: string;
  categoryId: number;
  /** The manifest's categoryName, or `Unknown category id <c>`. */
  categoryName: string;
  messageId: number;
  /** The manifest's msgName; null when the message is unknown. */
  messageName: string | null;
  /** The manifest's msgString, or `Unknown message ID <m>`. */
  message: string;
  timestampMs: number;
  params: DecodedLogParam[];
  /** Parameter bytes of a message the manifests do not describe, as hex. */
  unknownParams?: string;
  /** The entry as Microsoft's parser prints it (section 5). */
  line: string;
}

export interface DeviceLogProblem {
  offset: number;
  message: string;
}

export interface DecodedDeviceLog {
  bytes: number;
  bankCount: number;
  /** The bank reading starts at (the oldest). */
  startBank: number;
  entries: DeviceLogEntry[];
  problems: DeviceLogProblem[];
}

export function decodeDeviceLog(bytes: Buffer): DecodedDeviceLog {
  if (bytes.length === 0 || bytes.length % BANK_SIZE !== 0) {
    const offset = bytes.length - (bytes.length % BANK_SIZE);
    throw malformed(offset, `a device log is a whole number of ${BANK_SIZE}-byte banks; this one is ${bytes.length} bytes (the bank at ${offset} is cut short)`);
  }
  const bankCount = bytes.length / BANK_SIZE;
  const counters = [...Array(bankCount).keys()].map((bank) => bytes.readUInt16LE(bank * BANK_SIZE + COUNTER_OFFSET));
  let startBank = -1;
  counters.forEach((counter, bank) => {
    if (counter !== ERASED_U16 && (startBank < 0 || counter < counters[startBank]!)) startBank = bank;
  });
  if (startBank < 0) throw malformed(COUNTER_OFFSET, `no bank of the ${bankCount} has a counter below 0xFFFF: the log was never started (Microsoft's parser: "Unable to find first log message")`);
  const entries: DeviceLogEntry[] = [];
  const problems: DeviceLogProblem[] = [];
  const order = [...Array(bankCount).keys()].map((i) => (startBank + i) % bankCount);
  for (const bank of order) {
    if (counters[bank] === ERASED_U16) continue;
    const base = bank * BANK_SIZE;
    for (let at = 0; at <= LAST_ENTRY_START; ) {
      const length = bytes.readUInt16LE(base + at);
      if (length === ERASED_U16) break;
      const entry = decodeEntry(bytes, bank, base + at, at, length, problems);
      entries.push(entry);
      at += length;
    }
  }
  return { bytes: bytes.length, bankCount, startBank, entries, problems };
}

function decodeEntry(bytes: Buffer, bank: number, offset: number, bankOffset: number, length: number, problems: DeviceLogProblem[]): DeviceLogEntry {
  if (length < ENTRY_HEADER_SIZE) throw malformed(offset, `entry length ${length} is below the ${ENTRY_HEADER_SIZE}-byte header`);
  if (bankOffset + length > ENTRY_AREA_SIZE) throw malformed(offset, `entry length ${length} at bank offset ${bankOffset} reaches past the entry area into the bank footer (offset ${ENTRY_AREA_SIZE})`);
  const priority = bytes.readUInt8(offset + ENTRY.priority);
  if (priority >= LOG_PRIORITY_NAMES.length) throw malformed(offset + ENTRY.priority, `entry priority ${priority} is not 0..6`);
  const categoryId = bytes.readUInt16LE(offset + ENTRY.category);
  const messageId = bytes.readUInt16LE(offset + ENTRY.message);
  const timestampMs = bytes.readUInt32LE(offset + ENTRY.timestamp);
  const end = offset + length;
  const category = logCategory(categoryId);
  const known = category?.messages.get(messageId);
  const common = { offset, bank, length, priority, priorityName: LOG_PRIORITY_NAMES[priority]!, categoryId, messageId, timestampMs };
  if (!category) {
    problems.push({ offset, message: `unknown log category id ${categoryId} (message ${messageId})` });
    const entry = { ...common, categoryName: `Unknown category id ${categoryId}`, messageName: null, message: `Unknown message ID ${messageId}`, params: [] };
    return { ...entry, line: formatLogLine(entry) };
  }
  if (!known) {
    const note = category.unusable ? `; Microsoft's parser stops on any entry of category ${categoryId} (${category.name})` : '';
    problems.push({ offset, message: `${category.name} has no message id ${messageId}${note}` });
    const raw = bytes.subarray(offset + ENTRY_HEADER_SIZE, end);
    const entry = { ...common, categoryName: category.name, messageName: null, message: `Unknown message ID ${messageId}`, params: [], ...(raw.length ? { unknownParams: raw.toString('hex') } : {}) };
    return { ...entry, line: formatLogLine(entry) };
  }
  const params: DecodedLogParam[] = [];
  let cursor = offset + ENTRY_HEADER_SIZE;
  for (const param of known.params) {
    const decoded = decodeLogParam(bytes, cursor, end, param);
    params.push(decoded.param);
    cursor = decoded.next;
  }
  const entry = { ...common, categoryName: category.name, messageName: known.name, message: known.text, params };
  return { ...entry, line: formatLogLine(entry) };
}

function malformed(offset: number, message: string): InputError {
  return new InputError('device-log-malformed', `byte offset ${offset}: ${message}`, { offset });
}
