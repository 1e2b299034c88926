import type { FailureClass } from '../../util/failure.js';

/**
 * The wire format of the emulator's control channel: one JSON object per line
 * (UTF-8, "\n"-terminated, "\r\n" accepted) over TCP on loopback. It stands for
 * the FTDI GPIO pins (reset, recovery strap) and a power switch, plus controls
 * only an emulator has (fault injection, clock, speed).
 *
 *   request  {"id": 7, "cmd": "reset", ...params}
 *   reply    {"id": 7, "ok": true, "result": {...}}
 *            {"id": 7, "ok": false, "error": {"code": "...", "message": "...", "failureClass"?: "...", "details"?: {...}}}
 *   event    {"event": "power", ...fields}            (pushed to every client)
 *
 * A reply to a line whose id could not be read carries "id": null.
 */

/** Longest line (bytes, newline excluded) the server reads; longer ones are answered with `line-too-long` and discarded. */
export const CONTROL_MAX_LINE_BYTES = 64 * 1024;

export type ControlRequestId = number | string;

export interface ControlRequest {
  id: ControlRequestId;
  cmd: string;
  [param: string]: unknown;
}

export interface ControlErrorBody {
  code: string;
  message: string;
  failureClass?: FailureClass;
  details?: Record<string, unknown>;
}

export type ControlReply =
  | { id: ControlRequestId; ok: true; result: Record<string, unknown> }
  | { id: ControlRequestId | null; ok: false; error: ControlErrorBody };

export interface ControlEvent {
  event: string;
  [field: string]: unknown;
}

/** Stable codes of the errors the channel itself raises; a command's handler may add its own. */
export const ControlErrorCode = {
  malformedJson: 'malformed-json',
  notAnObject: 'not-an-object',
  invalidRequest: 'invalid-request',
  unknownCommand: 'unknown-command',
  invalidParams: 'invalid-params',
  lineTooLong: 'line-too-long',
  handlerFailed: 'handler-failed',
  resultNotSerialisable: 'result-not-serialisable',
} as const;
