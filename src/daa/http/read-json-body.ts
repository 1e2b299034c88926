import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body as JSON with a size limit and a time limit, never
 * throwing: the attestation route must consume its session and answer a
 * structured refusal whatever arrives. An over-long body is drained (up to a
 * bound) rather than cut off, so that the client reads the refusal instead of a
 * reset connection.
 *
 * A body must come as `Content-Type: application/json`, in UTF-8 (a `charset`
 * parameter, when there is one, must say so): anything else, an untyped body
 * included, is `unsupported-media-type` (or `unsupported-charset`), drained and
 * never parsed. A request with no body at all (no Content-Length, or 0, and no
 * Transfer-Encoding) reads as `{}`, whatever its Content-Type.
 */
export type JsonBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'too-large'; detail: string }
  | { kind: 'malformed'; detail: string }
  | { kind: 'unsupported-media-type'; code: MediaTypeCode; detail: string };

export type MediaTypeCode = 'unsupported-media-type' | 'unsupported-charset';

export interface ReadJsonBodyOptions {
  limitBytes: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DRAIN_FACTOR = 16;

export function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions): Promise<JsonBody> {
  const { limitBytes } = options;
  const declared = Number(req.headers['content-length']);
  if (!hasBody(req)) {
    // Nothing to read; the stream still has to end for the connection to be reused.
    req.resume();
    return Promise.resolve({ kind: 'json', value: {} });
  }
  const mediaType = mediaTypeProblem(req.headers['content-type']);
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
    const tooLarge = (): JsonBody => ({ kind: 'too-large', detail: `the request body is larger than the limit of ${limitBytes} bytes` });
    // A body of the wrong type is refused as such whatever its size: it is drained, never kept.
    const refusal = (): JsonBody => mediaType ?? tooLarge();
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= limitBytes && !mediaType) chunks.push(chunk);
      else if (received > limitBytes * DRAIN_FACTOR) {
        finish(refusal());
        req.destroy();
      }
    };
    const onEnd = (): void => {
      if (mediaType || received > limitBytes) return finish(refusal());
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        return finish({ kind: 'malformed', detail: 'the request body is not valid UTF-8' });
      }
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
      finish(refusal());
      req.resume();
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Whether the request carries a body: chunked, or a Content-Length other than 0. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

/**
 * Why a Content-Type is not JSON in UTF-8, or null when it is: `application/json`
 * (any case) with no charset or `charset=utf-8` (quoted or not); other parameters
 * are ignored.
 */
export function mediaTypeProblem(header: string | undefined): Extract<JsonBody, { kind: 'unsupported-media-type' }> | null {
  const shown = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
  if (header === undefined || header.trim() === '') {
    return { kind: 'unsupported-media-type', code: 'unsupported-media-type', detail: 'the request body has no Content-Type; send it as application/json' };
  }
  const [type = '', ...parameters] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') {
    return { kind: 'unsupported-media-type', code: 'unsupported-media-type', detail: `Content-Type ${shown(header)} is not supported; send the body as application/json` };
  }
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    const charset = parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (charset.toLowerCase() !== 'utf-8') {
      return { kind: 'unsupported-media-type', code: 'unsupported-charset', detail: `charset ${shown(charset)} is not supported; a JSON body is UTF-8 (charset=utf-8, or no charset)` };
    }
  }
  return null;
}
