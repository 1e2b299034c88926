import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body as JSON with a size limit and a time limit, never
 * throwing: the attestation route must consume its session and answer a
 * structured refusal whatever arrives. An over-long body is drained (up to a
 * bound) rather than cut off, so that the client reads the refusal instead of a
 * reset connection.
 */
export type JsonBody = { kind: 'json'; value: unknown } | { kind: 'too-large'; detail: string } | { kind: 'malformed'; detail: string };

export interface ReadJsonBodyOptions {
  limitBytes: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DRAIN_FACTOR = 16;

export function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions): Promise<JsonBody> {
  const { limitBytes } = options;
  const declared = Number(req.headers['content-length']);
  const contentType = String(req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (body: JsonBody): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(body);
    };
    const tooLarge = (): JsonBody => ({ kind: 'too-large', detail: `the body is larger than ${limitBytes} bytes` });
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= limitBytes) chunks.push(chunk);
      else if (received > limitBytes * DRAIN_FACTOR) {
        finish(tooLarge());
        req.destroy();
      }
    };
    const onEnd = (): void => {
      if (received > limitBytes) return finish(tooLarge());
      if (contentType !== 'application/json') return finish({ kind: 'malformed', detail: `content type must be application/json, got ${contentType.slice(0, 60)}` });
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        finish({ kind: 'json', value: text.trim() === '' ? {} : JSON.parse(text) });
      } catch (error) {
        finish({ kind: 'malformed', detail: `not JSON: ${(error as Error).message.slice(0, 200)}` });
      }
    };
    const onError = (error: Error): void => finish({ kind: 'malformed', detail: `the body could not be read: ${error.message}` });
    const onAbort = (): void => finish({ kind: 'malformed', detail: 'the request was abandoned' });
    const timer = setTimeout(() => finish({ kind: 'malformed', detail: `the body did not arrive within ${options.timeoutMs ?? 10_000} ms` }), options.timeoutMs ?? 10_000);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(declared) && declared > limitBytes * DRAIN_FACTOR) {
      finish(tooLarge());
      req.resume();
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
