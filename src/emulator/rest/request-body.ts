import type { IncomingMessage, ServerResponse } from 'node:http';
import { discardRestOfBody } from '../../util/http-body-discard.js';
import { refuse } from './rest-error-codes.js';

/**
 * Reads a request body into memory, never more than `maxBytes`: a body that
 * declares or turns out to be larger is refused (15728644) without buffering
 * the rest. Bodies of JSON requests are small; only /update/stage takes
 * megabytes, and its limit is the flash it could land in.
 */
export const JSON_BODY_LIMIT = 64 * 1024;
export const IMAGE_BODY_LIMIT = 16 * 1024 * 1024;

/** Raised when the client went away mid-body: there is nobody left to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection before sending the whole body');
    this.name = 'ClientGone';
  }
}

export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const value = Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** True when the request carries a body (a length above zero, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = declaredLength(req);
  return length !== undefined ? length > 0 : req.headers['transfer-encoding'] !== undefined;
}

export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > maxBytes) return Promise.reject(refuse.tooLarge(maxBytes));
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        req.pause();
        reject(refuse.tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (): void => {
      cleanup();
      reject(new ClientGone());
    };
    const onClose = (): void => {
      if (req.readableEnded) return;
      cleanup();
      reject(new ClientGone());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** How much of a refused body is read and thrown away so that the client gets its answer. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;
const DISCARD_LIMIT_MS = 30_000;

/**
 * Answers a body refused as too large to read (`{"error": code}` with `status`)
 * at once, and closes the connection only once the client has sent the rest of
 * it, read and thrown away (bounded in bytes and time): a lingering close.
 *
 * Node's server closes a connection as soon as its last response is finished
 * (a client that sent `Connection: close`, or this answer's own header). Body
 * bytes that arrive after that close are answered by the kernel with a reset,
 * and a client still writing its upload then fails with EPIPE or ECONNRESET
 * before it has read the answer that was sent to it, or after: a race the
 * client cannot win by itself. So the whole answer (headers, Content-Length,
 * body) is written now, and the response is ended, which lets Node close the
 * connection, only when the upload is over. A client that keeps sending past
 * the bounds is cut off (its problem, not the device's).
 */
export function answerRefusedBody(req: IncomingMessage, res: ServerResponse, status: number, code: number): void {
  const body = JSON.stringify({ error: code });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // The rest of the body is not worth keeping the connection for.
  res.setHeader('Connection', 'close');
  // Nothing more to come (or nobody left to send it): a plain answer.
  if (req.readableEnded || req.destroyed) {
    res.end(body);
    return;
  }
  res.write(body);
  // Ended: the answer is finished. Past a bound, or the client hung up (it may, once it has the answer): cut.
  discardRestOfBody(req, DISCARD_LIMIT_BYTES, DISCARD_LIMIT_MS, (complete) => (complete ? res.end() : req.socket.destroy()));
}
