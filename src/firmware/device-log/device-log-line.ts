import type { DecodedLogParam } from './log-param-codec.js';

/**
 * One decoded entry as Microsoft's parser prints it (device-log-format.md
 * section 5): `[<seconds>] <Priority> <categoryName>(<msgId>): <msgString> <params>`,
 * seconds = timestamp/1000 with 6 decimals right-aligned in 12 characters;
 * parameters `(name: value, ...)`, nothing (so a trailing space) without any;
 * a message the manifest lacks shows its parameter bytes as `(Params: 0x1 0xab )`.
 */
export interface LogLineFields {
  timestampMs: number;
  priorityName: string;
  categoryName: string;
  messageId: number;
  message: string;
  params: readonly DecodedLogParam[];
  unknownParams?: string;
}

export function formatLogLine(entry: LogLineFields): string {
  const seconds = (entry.timestampMs / 1000).toFixed(6).padStart(12);
  let params = '';
  if (entry.unknownParams) {
    const bytes = Buffer.from(entry.unknownParams, 'hex');
    params = `(Params: ${[...bytes].map((b) => `0x${b.toString(16)} `).join('')})`;
  } else if (entry.params.length) {
    params = `(${entry.params.map((p) => p.text).join(', ')})`;
  }
  return `[${seconds}] ${entry.priorityName} ${entry.categoryName}(${entry.messageId}): ${entry.message} ${params}`;
}
