import { EventEmitter } from 'node:events';
import { connect as connectSocket, type Socket } from 'node:net';
import { RigError, isFailureClass, type FailureClass } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { checkLoopbackHostPort, formatHostPort } from '../../util/loopback-address.js';

const log = componentLogger('control-client');

/**
 * The host's end of an emulated board's control channel, the stand-in for the
 * FTDI GPIO pins (reset, recovery strap) and a power switch. Wire format: JSON
 * lines, documented in src/emulator/surfaces/control-protocol.ts; mirrored here
 * rather than imported because the host side must not depend on emulator code.
 */

export interface ControlEvent {
  event: string;
  [field: string]: unknown;
}

export interface ControlClientOptions {
  /** A literal loopback address; anything else is refused. Default 127.0.0.1. */
  host?: string;
  port: number;
  /** How long to wait for the connection. Default 5000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Timeout of requests and event waits that do not set their own. Default 10000 ms. */
  defaultTimeoutMs?: number;
}

export interface ControlWaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Every error the control client raises: the server's code for refused requests, or the client's own. */
export class ControlError extends RigError {
  constructor(failureClass: FailureClass, code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClass, code, message, details, options);
  }
}

interface PendingRequest {
  cmd: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: ControlError) => void;
}

// Replies may carry state dumps; far above the server's request limit, but bounded.
const MAX_REPLY_LINE_BYTES = 16 * 1024 * 1024;

export class ControlClient extends EventEmitter<{ event: [event: ControlEvent]; close: [] }> {
  private readonly socket: Socket;
  private readonly defaultTimeoutMs: number;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly closeWaiters = new Set<(error: ControlError) => void>();
  private nextId = 1;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private closedError: ControlError | undefined;
  private readonly where: string;

  static connect(options: ControlClientOptions): Promise<ControlClient> {
    let host: string;
    try {
      host = checkLoopbackHostPort({ host: options.host ?? '127.0.0.1', port: options.port }, 'the control channel', { use: 'connect' }).host;
    } catch (error) {
      const refused = error as RigError;
      return Promise.reject(new ControlError(refused.failureClass, refused.code, refused.message, refused.details));
    }
    const where = formatHostPort(host, options.port);
    const timeoutMs = options.timeoutMs ?? 5000;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(cancelled(`connecting to the control channel at ${where}`, signal));

    return new Promise((resolve, reject) => {
      const socket = connectSocket({ host, port: options.port });
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('connect', onConnect);
      };
      const fail = (error: ControlError): void => {
        finish();
        socket.destroy();
        reject(error);
      };
      const onConnect = (): void => {
        finish();
        resolve(new ControlClient(socket, where, options.defaultTimeoutMs ?? 10_000));
      };
      const onError = (error: Error): void =>
        fail(new ControlError('infra-error', 'control-connect-failed', `cannot reach the control channel at ${where}: ${error.message}`, {}, { cause: error }));
      const onAbort = (): void => fail(cancelled(`connecting to the control channel at ${where}`, signal));
      const timer = setTimeout(
        () => fail(new ControlError('timeout', 'control-timeout', `no connection to the control channel at ${where} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private constructor(socket: Socket, where: string, defaultTimeoutMs: number) {
    super();
    this.socket = socket;
    this.where = where;
    this.defaultTimeoutMs = defaultTimeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.shutDown(new ControlError('infra-error', 'control-connection-lost', `control channel at ${where}: ${error.message}`, {}, { cause: error })));
    socket.on('close', () => this.shutDown(new ControlError('infra-error', 'control-connection-lost', `control channel at ${where} closed`)));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Sends a command and resolves with its result. Rejects with the server's
   * error code (failure class as the server gave it, else infra-error), or
   * 'control-timeout' (timeout), 'cancelled', 'control-connection-lost'.
   */
  request<R extends Record<string, unknown> = Record<string, unknown>>(
    cmd: string,
    params: Record<string, unknown> = {},
    options: ControlWaitOptions = {},
  ): Promise<R> {
    if (this.closedError) return Promise.reject(this.closedError);
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (signal?.aborted) return Promise.reject(cancelled(`control command '${cmd}'`, signal));
    if ('id' in params || 'cmd' in params) {
      return Promise.reject(new ControlError('infra-error', 'reserved-param', `control command '${cmd}': 'id' and 'cmd' are not parameter names`));
    }
    const id = this.nextId++;
    let line: string;
    try {
      line = `${JSON.stringify({ ...params, id, cmd })}\n`;
    } catch (error) {
      return Promise.reject(new ControlError('infra-error', 'params-not-serialisable', `control command '${cmd}': params are not JSON: ${(error as Error).message}`));
    }

    return new Promise<R>((resolve, reject) => {
      const finish = (): void => {
        this.pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(cancelled(`control command '${cmd}'`, signal));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new ControlError('timeout', 'control-timeout', `control command '${cmd}' got no reply within ${timeoutMs} ms`, { cmd, timeoutMs }));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        cmd,
        resolve: (result) => {
          finish();
          resolve(result as R);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      });
      this.socket.write(line);
    });
  }

  /**
   * Resolves with the first event after this call that satisfies `predicate`.
   * Start waiting before the action that causes the event.
   */
  waitForEvent(predicate: (event: ControlEvent) => boolean, options: ControlWaitOptions = {}): Promise<ControlEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (signal?.aborted) return Promise.reject(cancelled('waiting for a control event', signal));

    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.off('event', onEvent);
        this.closeWaiters.delete(onClose);
      };
      const onEvent = (event: ControlEvent): void => {
        let matched: boolean;
        try {
          matched = predicate(event);
        } catch (error) {
          finish();
          reject(new ControlError('infra-error', 'event-predicate-failed', `event predicate threw: ${(error as Error).message}`, {}, { cause: error }));
          return;
        }
        if (matched) {
          finish();
          resolve(event);
        }
      };
      const onAbort = (): void => {
        finish();
        reject(cancelled('waiting for a control event', signal));
      };
      const onClose = (error: ControlError): void => {
        finish();
        reject(error);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new ControlError('timeout', 'control-event-timeout', `no matching control event within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      this.on('event', onEvent);
      this.closeWaiters.add(onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends the connection; pending requests and waits reject. Idempotent. */
  async close(): Promise<void> {
    this.shutDown(new ControlError('infra-error', 'control-closed', `control channel at ${this.where} was closed by the client`));
    if (!this.socket.closed) {
      const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
      this.socket.destroy();
      await closed;
    }
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.buffered.push(chunk.subarray(start, newline));
      const line = Buffer.concat(this.buffered).toString('utf8');
      this.buffered = [];
      this.bufferedBytes = 0;
      start = newline + 1;
      this.handleLine(line);
    }
    const rest = chunk.subarray(start);
    this.bufferedBytes += rest.length;
    if (this.bufferedBytes > MAX_REPLY_LINE_BYTES) {
      this.protocolFailure(`a line longer than ${MAX_REPLY_LINE_BYTES} bytes`);
      return;
    }
    if (rest.length) this.buffered.push(rest);
  }

  private handleLine(line: string): void {
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.protocolFailure(`a line that is not JSON: ${line.slice(0, 200)}`);
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.protocolFailure(`a line that is not an object: ${line.slice(0, 200)}`);
      return;
    }
    const record = message as Record<string, unknown>;
    if (typeof record.event === 'string') {
      this.emit('event', record as ControlEvent);
      return;
    }
    const waiting = typeof record.id === 'number' ? this.pending.get(record.id) : undefined;
    if (!waiting) {
      // A late reply to a request that timed out or was cancelled, or an error about an unreadable line.
      log.debug('reply matches no pending request', { where: this.where, line: line.slice(0, 200) });
      return;
    }
    if (record.ok === true) {
      const result = record.result;
      waiting.resolve(typeof result === 'object' && result !== null && !Array.isArray(result) ? (result as Record<string, unknown>) : {});
      return;
    }
    const body = (typeof record.error === 'object' && record.error !== null ? record.error : {}) as Record<string, unknown>;
    const code = typeof body.code === 'string' ? body.code : 'control-error';
    const message_ = typeof body.message === 'string' ? body.message : 'the control channel refused the command';
    const failureClass = isFailureClass(body.failureClass) ? body.failureClass : 'infra-error';
    const details = typeof body.details === 'object' && body.details !== null ? (body.details as Record<string, unknown>) : {};
    waiting.reject(new ControlError(failureClass, code, `${waiting.cmd}: ${message_}`, { ...details, cmd: waiting.cmd }));
  }

  private protocolFailure(what: string): void {
    const error = new ControlError('infra-error', 'control-protocol-error', `control channel at ${this.where} sent ${what}`);
    log.warn('protocol error', { where: this.where, error: error.message });
    this.shutDown(error);
    this.socket.destroy();
  }

  /** Rejects everything still waiting, once. */
  private shutDown(error: ControlError): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const waiting of [...this.pending.values()]) waiting.reject(error);
    for (const onClose of [...this.closeWaiters]) onClose(error);
    this.emit('close');
  }
}

function cancelled(what: string, signal: AbortSignal | undefined): ControlError {
  return new ControlError('cancelled', 'cancelled', `${what} was cancelled`, {}, { cause: signal?.reason });
}
