import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { discardRestOfBody } from '../util/http-body-discard.js';

/**
 * Answers sent before the request body was read (401/403 before the role is
 * checked, 413 for a declared length over the limit, 415, 404, 421) must reach a
 * client that is still uploading. Node's server closes a connection as soon as
 * its last response is finished; body bytes that arrive after the close are
 * answered by the kernel with a reset, so the client fails with EPIPE or
 * ECONNRESET instead of reading its 4xx (the race the emulator's REST API had).
 *
 * So, on a request whose body is not read to its end when the answer ends, the
 * answer is written at once but ended (which lets Node close) only once the
 * client has sent the rest, read and thrown away: at most `maxDiscardBytes`
 * and `maxDiscardMs`, past which the connection is cut (a client that keeps
 * sending that long is not owed an answer). The answer says `Connection: close`.
 * Mount it first.
 */
export interface EarlyAnswerOptions {
  /** Default 16 MiB. */
  maxDiscardBytes?: number;
  /** Default 30 s. */
  maxDiscardMs?: number;
}

export function lingerOnEarlyAnswer(options: EarlyAnswerOptions = {}): RequestHandler {
  const maxBytes = options.maxDiscardBytes ?? 16 * 1024 * 1024;
  const maxMs = options.maxDiscardMs ?? 30_000;
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.end = ((...args: unknown[]) => {
      if (req.readableEnded || req.destroyed) return end(...args);
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as () => void) : undefined;
      const [chunk, encoding] = args as [unknown, BufferEncoding | undefined];
      if (!res.headersSent) res.setHeader('Connection', 'close');
      if (chunk !== undefined && chunk !== null) res.write(chunk as string | Buffer, encoding ?? 'utf8');
      discardRestOfBody(req, maxBytes, maxMs, (complete) => {
        if (complete) end(callback);
        else req.socket.destroy();
      });
      return res;
    }) as Response['end'];
    next();
  };
}

/** Whether the request carries a body: chunked, or a Content-Length other than 0. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}
