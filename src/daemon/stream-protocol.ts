import { Ajv } from 'ajv';
import { InputError } from '../util/failure.js';
import type { MissedReason } from './event-bus.js';

/**
 * The event stream's WebSocket protocol (server at `STREAM_PATH`).
 *
 * Connect with a token (`Authorization: Bearer <token>`, or `?token=` from a
 * browser). Subscribe in the URL (`?subscribe=board:*,run:*&since=120`; either
 * parameter alone subscribes, `subscribe` defaulting to `*`) or by sending
 * `{"subscribe": ["board:*", "run:*"], "since": 120}` at any time; a new
 * subscription replaces the previous one, continuing from where it was when
 * `since` is left out. `since` is the last sequence number the client has seen:
 * it receives every matching event after it (replay, then live), in order,
 * exactly once; without `since` it receives events from now on.
 *
 * Server messages are JSON text frames. Events carry a `seq`:
 *   `{"seq": 121, "topic": "board:board-01", "type": "board.state", "time": "...", "payload": {...}}`
 * Control messages carry no `seq`:
 *   `{"type": "subscribed", "patterns": [...], "since": 120 | null, "latestSeq": 130}`
 *   `{"type": "live", "seq": 130}`                  replay done; later events arrive as they happen
 *   `{"type": "missed", "from": 51, "through": 99, "reason": "retention"}`
 *                                                   events from..through cannot be replayed; sent where the hole is (after the
 *                                                   events before `from`). reason `retention`: deleted as old; `crash`: handed
 *                                                   out live, then the daemon died before writing them (the range runs to the
 *                                                   end of the numbers the crashed daemon had reserved, as the last one it
 *                                                   handed out is not known; the rest carried no event); `disk-fault`: dropped
 *                                                   while the event log could not be written. Numbers skipped that were never
 *                                                   handed out (after a clean stop or a crash with nothing in flight) are not
 *                                                   announced: a jump in `seq` alone is not a loss.
 *   `{"type": "error", "code": "...", "message": "..."}`   a bad client message; the connection stays open
 *   `{"type": "overflow", "resumeFrom": 4711}`      the client read too slowly: the last message before close code 4008;
 *                                                   reconnect with `since` = 4711 (everything up to it was sent)
 *
 * Every client has a bounded send queue: a client whose unsent messages would
 * pass the bound (default 4 MiB) gets the `overflow` message and close code
 * 4008. Replies to bad messages count against the same bound.
 *
 * What a client sends is rate-limited (default 20 messages/s with bursts of 100,
 * 64 KiB/s with bursts of 256 KiB, pings and pongs included); past either limit
 * the connection is closed with 1008 and a reason naming the limit, and the
 * daemon stops reading from it.
 *
 * The server pings every heartbeat interval with a fresh payload; a client that
 * has not answered with a pong carrying that payload by the next one is dropped
 * (no close message: it is not reading). A pong only comes back once the client
 * has read everything sent before the ping, so this drops a client that stops
 * reading even while it keeps sending; what a client sends never counts as alive.
 *
 * Close codes: 4008 overflow, 4001 the connection's token was revoked, 1008 rate
 * limit, 1001 daemon stopping, 1009 client message too big.
 *
 * An upgrade carrying an `Origin` header is accepted only from the daemon's own
 * origin (the Host it was reached at, or a loopback name on that port), else it
 * is refused with HTTP 403; clients that send no Origin (CLI, scripts) are not
 * affected.
 */
export const STREAM_PATH = '/api/v1/stream';
export const CLOSE_OVERFLOW = 4008;
export const CLOSE_GOING_AWAY = 1001;
/** The client sent more than the rate limits allow (WebSocket "policy violation"). */
export const CLOSE_RATE_LIMIT = 1008;
/** The token the connection was opened with was revoked. */
export const CLOSE_TOKEN_REVOKED = 4001;

/** Why the daemon closed a client, as counted in its statistics and metrics. */
export const STREAM_CLOSE_REASONS = ['overflow', 'rate', 'stalled', 'revoked'] as const;
export type StreamCloseReason = (typeof STREAM_CLOSE_REASONS)[number];

export interface SubscribeRequest {
  subscribe: string[];
  since?: number | null;
}

export type StreamControlMessage =
  | { type: 'subscribed'; patterns: string[]; since: number | null; latestSeq: number }
  | { type: 'live'; seq: number }
  | { type: 'missed'; from: number; through: number; reason: MissedReason }
  | { type: 'error'; code: string; message: string }
  | { type: 'overflow'; resumeFrom: number };

export class StreamProtocolError extends InputError {}

const validateSubscribe = new Ajv({ allErrors: false, strict: true }).compile<SubscribeRequest>({
  type: 'object',
  required: ['subscribe'],
  additionalProperties: false,
  properties: {
    subscribe: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 } },
    since: { anyOf: [{ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, { type: 'null' }] },
  },
});

/** A client's text message as a subscribe request; throws `StreamProtocolError` naming what is wrong. */
export function parseClientMessage(text: string): SubscribeRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StreamProtocolError('malformed-json', 'the message is not valid JSON');
  }
  if (!validateSubscribe(value)) {
    const error = validateSubscribe.errors?.[0];
    let where = error?.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'message';
    if (error?.keyword === 'additionalProperties') where = String((error.params as { additionalProperty: string }).additionalProperty);
    const problem = error?.keyword === 'additionalProperties' ? 'is not a known field' : (error?.message ?? 'is not valid');
    throw new StreamProtocolError('bad-message', `${where} ${problem}; expected {"subscribe": ["topic pattern", ...], "since": <seq>}`);
  }
  return value;
}

/** The subscription asked for in a connection URL, or null when it asks for none. */
export function subscriptionFromUrl(url: string | undefined): SubscribeRequest | null {
  let params: URLSearchParams;
  try {
    params = new URL(url ?? '/', 'http://localhost').searchParams;
  } catch {
    throw new StreamProtocolError('bad-url', 'the connection URL does not parse');
  }
  const patterns = params.getAll('subscribe').flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
  const since = params.get('since');
  if (patterns.length === 0 && since === null) return null;
  let sinceValue: number | null = null;
  if (since !== null && since !== '') {
    if (!/^\d{1,16}$/.test(since) || !Number.isSafeInteger(Number(since))) throw new StreamProtocolError('bad-since', `since must be a sequence number, got ${JSON.stringify(since.slice(0, 40))}`);
    sinceValue = Number(since);
  }
  return { subscribe: patterns.length ? patterns : ['*'], since: sinceValue };
}
