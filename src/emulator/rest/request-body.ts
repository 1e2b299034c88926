import type { IncomingMessage } from 'node:http';
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
 * After refusing a body too large to read, read the rest of it and throw it
 * away (bounded in bytes and time). Closing at once would reset a connection
 * with unread bytes in it, and the client would lose the answer along with it.
 */
export function discardRestOfBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  let discarded = 0;
  const giveUp = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(giveUp, DISCARD_LIMIT_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) giveUp();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
