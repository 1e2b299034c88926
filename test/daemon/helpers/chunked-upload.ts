import { connect } from 'node:net';

export interface UploadOutcome {
  /** The status line's code, or null when no answer came. */
  status: number | null;
  /** The answer's body (after the head). */
  body: string;
  /** A transport error met while sending or reading (EPIPE, ECONNRESET), or null. */
  transportError: string | null;
  /** Whether the answer had started to arrive before the last byte of the body was sent. */
  answeredEarly: boolean;
}

export interface UploadOptions {
  port: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** Body bytes in all. */
  size: number;
  /** Bytes per write; each write waits until the previous one reached the kernel. Default 16 KiB. */
  chunkBytes?: number;
  /** Send `Content-Length: size` (default) or `Transfer-Encoding: chunked`. */
  chunked?: boolean;
  /**
   * After this many body bytes, wait until the answer starts to arrive, then send
   * the rest: the race of an early answer, made certain.
   */
  awaitAnswerAfterBytes?: number;
}

/**
 * Uploads a body to a loopback HTTP server over a raw socket, chunk after
 * chunk, as a client that does not look at the answer until it has sent
 * everything (fetch, curl) does, and keeps on sending after an early answer:
 * every transport error is recorded, never thrown.
 */
export function chunkedUpload(options: UploadOptions): Promise<UploadOutcome> {
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  const socket = connect({ host: '127.0.0.1', port: options.port });
  const received: Buffer[] = [];
  let transportError: string | null = null;
  let sending = true;
  let answeredEarly = false;
  let onAnswer: (() => void) | undefined;
  const answered = new Promise<void>((resolve) => (onAnswer = resolve));
  socket.on('data', (chunk: Buffer) => {
    if (sending) answeredEarly = true;
    received.push(chunk);
    onAnswer?.();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => (transportError ??= error.code ?? error.message));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

  const write = (data: Buffer | string): Promise<boolean> =>
    new Promise((resolve) => {
      if (socket.destroyed || transportError) return resolve(false);
      socket.write(data, (error) => resolve(!error));
    });

  const send = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch(() => undefined);
    const lines = [
      `${options.method ?? 'POST'} ${options.path} HTTP/1.1`,
      `Host: 127.0.0.1:${options.port}`,
      ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${options.size}`,
      'Connection: close',
    ];
    if (!(await write(`${lines.join('\r\n')}\r\n\r\n`))) return;
    const chunk = Buffer.alloc(chunkBytes, 0x20);
    for (let sent = 0; sent < options.size; sent += chunkBytes) {
      const part = chunk.subarray(0, Math.min(chunkBytes, options.size - sent));
      const data = options.chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part;
      if (!(await write(data))) return;
      if (options.awaitAnswerAfterBytes !== undefined && sent < options.awaitAnswerAfterBytes && sent + part.length >= options.awaitAnswerAfterBytes) await answered;
    }
    if (options.chunked) await write('0\r\n\r\n');
  };

  return send().then(async () => {
    sending = false;
    // Our side is done: half-close, and read the answer to its end.
    if (!socket.destroyed) socket.end();
    await closed;
    return parse(Buffer.concat(received), transportError, answeredEarly);
  });
}

function parse(raw: Buffer, transportError: string | null, answeredEarly: boolean): UploadOutcome {
  const text = raw.toString('utf8');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
  const headEnd = text.indexOf('\r\n\r\n');
  return { status: status ? Number(status[1]) : null, body: headEnd >= 0 ? text.slice(headEnd + 4) : '', transportError, answeredEarly };
}
