import type { IncomingMessage } from 'node:http';

/**
 * After an answer sent before the request body was read, the rest of the upload
 * is read and dropped, so a client still sending reads its answer instead of a
 * reset (EPIPE). Bounded: past `maxBytes` or `maxMs` the caller cuts the
 * connection. Used by the daemon's and the emulator's HTTP servers alike.
 */
/** Reads and drops the rest of the body; `done(true)` at its end, `done(false)` past a bound or when the client is gone. */
export function discardRestOfBody(req: IncomingMessage, maxBytes: number, maxMs: number, done: (complete: boolean) => void): void {
  let discarded = 0;
  const settle = (complete: boolean): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    done(complete);
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > maxBytes) settle(false);
  };
  const onEnd = (): void => settle(true);
  const onClose = (): void => settle(req.readableEnded);
  const timer = setTimeout(() => settle(false), maxMs);
  timer.unref();
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
  req.resume();
}
