import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { InputError, RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { checkLoopbackHostPort, formatHostPort } from '../../util/loopback-address.js';
import {
  CONTROL_MAX_LINE_BYTES,
  ControlErrorCode,
  type ControlErrorBody,
  type ControlEvent,
  type ControlReply,
  type ControlRequestId,
} from './control-protocol.js';

const log = componentLogger('control-server');

export interface ControlCommandContext {
  clientId: number;
  /** Aborted when the client disconnects or the server closes. */
  signal: AbortSignal;
}

export interface ControlCommand<P extends Record<string, unknown> = Record<string, unknown>> {
  /** JSON Schema of the params: the request object without `id` and `cmd`. */
  schema: Record<string, unknown>;
  /** Runs once the params match the schema. A thrown RigError reaches the client with its code and failure class. */
  handler: (params: P, context: ControlCommandContext) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
}

export interface ControlServerOptions {
  /** A literal loopback address; anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  maxLineBytes?: number;
  /** What one client may cost the server before it is dropped; defaults in CONTROL_CLIENT_LIMITS. */
  limits?: Partial<ControlClientLimits>;
}

/**
 * The bounds on one client. Nothing a client sends or fails to read can grow
 * the server's memory without bound: past any of these it is dropped, with a
 * last error line naming the reason (`id: null`, the code below) when that line
 * can still be written.
 */
export interface ControlClientLimits {
  /** Bytes queued for a client that does not read (replies and events) before it is dropped ('send-queue-full'). */
  maxQueuedBytes: number;
  /** A line past maxLineBytes is answered `line-too-long` and skipped; one that goes on this many bytes further without a newline gets the client dropped ('line-too-long'). */
  maxDiscardBytes: number;
  /** Malformed lines (those the channel itself answers with an error) allowed in a burst ('too-many-malformed-lines')... */
  malformedBurst: number;
  /** ...of which this many per second are forgiven, so a long-lived client is not dropped for rare mistakes. */
  malformedPerSecond: number;
  /** Lines allowed in a burst ('frame-rate-exceeded')... */
  frameBurst: number;
  /** ...and sustained per second. */
  framesPerSecond: number;
  /** How long a dropped client that does not close its end gets to read its last line before the socket is destroyed. */
  closeGraceMs: number;
}

export const CONTROL_CLIENT_LIMITS: Readonly<ControlClientLimits> = {
  maxQueuedBytes: 1024 * 1024,
  maxDiscardBytes: 16 * 1024 * 1024,
  malformedBurst: 500,
  malformedPerSecond: 1,
  frameBurst: 2000,
  framesPerSecond: 500,
  closeGraceMs: 1000,
};

/** Why a client was dropped: the code of its last error line, and a key of `ControlServer.drops`. */
export const ControlDropReason = {
  sendQueueFull: 'send-queue-full',
  lineTooLong: 'line-too-long',
  tooManyMalformedLines: 'too-many-malformed-lines',
  frameRateExceeded: 'frame-rate-exceeded',
} as const;
export type ControlDropReason = (typeof ControlDropReason)[keyof typeof ControlDropReason];

interface RegisteredCommand {
  validate: ValidateFunction;
  handler: ControlCommand['handler'];
}

/**
 * The emulator's control channel (see control-protocol.ts): a TCP server on
 * loopback speaking JSON lines. Every bad input gets an error reply and the
 * connection keeps serving; nothing a client sends can crash the server. What
 * one client may cost is bounded (ControlClientLimits): past a bound it is
 * dropped with a last error line naming why, counted in `drops` and logged once.
 */
export class ControlServer {
  private readonly server: Server;
  private readonly commands = new Map<string, RegisteredCommand>();
  private readonly clients = new Map<number, ControlConnection>();
  private readonly ajv = new Ajv({ allErrors: true, strict: true });
  private readonly maxLineBytes: number;
  private readonly limits: ControlClientLimits;
  private readonly dropCounts: Record<ControlDropReason, number> = {
    'send-queue-full': 0,
    'line-too-long': 0,
    'too-many-malformed-lines': 0,
    'frame-rate-exceeded': 0,
  };
  private nextClientId = 1;
  private closing: Promise<void> | undefined;

  /** Starts listening; resolves once the port is bound. */
  static async listen(options: ControlServerOptions = {}): Promise<ControlServer> {
    const { host, port } = checkLoopbackHostPort({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, 'the control channel', { use: 'listen' });
    const control = new ControlServer(options.maxLineBytes ?? CONTROL_MAX_LINE_BYTES, { ...CONTROL_CLIENT_LIMITS, ...options.limits });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new RigError('infra-error', 'control-listen-failed', `cannot listen on ${formatHostPort(host, port)}: ${error.message}`, {}, { cause: error }));
      };
      control.server.once('error', onError);
      control.server.listen({ host, port, exclusive: true }, () => {
        control.server.off('error', onError);
        resolve();
      });
    });
    control.server.on('error', (error) => log.error('server error', { error: error.message }));
    log.debug('listening', { host: control.host, port: control.port });
    return control;
  }

  private constructor(maxLineBytes: number, limits: ControlClientLimits) {
    this.maxLineBytes = maxLineBytes;
    this.limits = limits;
    this.server = createServer((socket) => this.accept(socket));
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Clients dropped so far for going past a bound (see ControlClientLimits), by reason. */
  get drops(): Readonly<Record<ControlDropReason, number>> {
    return { ...this.dropCounts };
  }

  /** Adds a command; its schema is compiled now, so a bad schema fails here rather than on first use. */
  register<P extends Record<string, unknown>>(name: string, command: ControlCommand<P>): this {
    if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(name)) {
      throw new InputError('invalid-command-name', `control command names are a letter then letters, digits, '_', '.' or '-'; got '${name}'`);
    }
    if (this.commands.has(name)) throw new InputError('duplicate-command', `control command '${name}' is already registered`);
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(command.schema);
    } catch (error) {
      throw new InputError('invalid-command-schema', `schema of control command '${name}': ${(error as Error).message}`, {}, { cause: error });
    }
    this.commands.set(name, { validate, handler: command.handler as ControlCommand['handler'] });
    return this;
  }

  /** Pushes `{"event": name, ...fields}` to every connected client. */
  broadcast(event: string, fields: Record<string, unknown> = {}): void {
    const message: ControlEvent = { event, ...withoutKey(fields, 'event') };
    let line: string;
    try {
      line = `${JSON.stringify(message)}\n`;
    } catch (error) {
      throw new RigError('infra-error', ControlErrorCode.resultNotSerialisable, `event '${event}' is not JSON: ${(error as Error).message}`);
    }
    for (const client of this.clients.values()) client.send(line);
  }

  /** Stops listening and ends every connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const client of this.clients.values()) client.destroy();
    }).then(() => {
      log.debug('closed');
    });
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const id = this.nextClientId++;
    const client = new ControlConnection(id, socket, this.maxLineBytes, this.limits, {
      onLine: (line, from) => {
        this.dispatch(line, from).catch((error: unknown) => log.error('dispatch failed', { client: id, error: String(error) }));
      },
      onDrop: (reason, message) => {
        this.dropCounts[reason] += 1;
        // Once per client: a dropped client sends nothing more that is read.
        log.warn('client dropped', { client: id, reason, why: message, drops: this.drops });
      },
    });
    this.clients.set(id, client);
    log.debug('client connected', { client: id, remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    socket.once('close', () => {
      this.clients.delete(id);
      client.abort();
      log.debug('client disconnected', { client: id });
    });
  }

  /**
   * One line in, exactly one reply out (unless the client is gone by then).
   * The channel's own error replies (the line was not a valid request) count
   * against the client's malformed-line bound.
   */
  private async dispatch(line: string, client: ControlConnection): Promise<void> {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      client.malformed({ id: null, ok: false, error: { code: ControlErrorCode.malformedJson, message: `not JSON: ${(error as Error).message}` } });
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      client.malformed({ id: null, ok: false, error: { code: ControlErrorCode.notAnObject, message: 'a request must be a JSON object' } });
      return;
    }
    const request = message as Record<string, unknown>;
    const id = request.id;
    if (!isRequestId(id)) {
      client.malformed({ id: null, ok: false, error: { code: ControlErrorCode.invalidRequest, message: "'id' must be a number or a non-empty string" } });
      return;
    }
    const cmd = request.cmd;
    if (typeof cmd !== 'string') {
      client.malformed({ id, ok: false, error: { code: ControlErrorCode.invalidRequest, message: "'cmd' must be a string" } });
      return;
    }
    const command = this.commands.get(cmd);
    if (!command) {
      client.malformed({ id, ok: false, error: { code: ControlErrorCode.unknownCommand, message: `unknown command '${cmd}'`, details: { known: [...this.commands.keys()].sort() } } });
      return;
    }
    const params = withoutKey(withoutKey(request, 'id'), 'cmd');
    if (!command.validate(params)) {
      const errors = describeSchemaErrors(command.validate.errors ?? []);
      client.malformed({
        id,
        ok: false,
        error: { code: ControlErrorCode.invalidParams, message: `${cmd}: ${errors.map((e) => e.message).join('; ')}`, details: { errors } },
      });
      return;
    }
    try {
      const result = (await command.handler(params, { clientId: client.id, signal: client.signal })) ?? {};
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        throw new RigError('infra-error', ControlErrorCode.resultNotSerialisable, `${cmd}: a handler must return an object`);
      }
      client.reply({ id, ok: true, result });
    } catch (error) {
      if (!(error instanceof RigError)) log.warn('handler failed', { cmd, error: (error as Error)?.message ?? String(error) });
      client.reply({ id, ok: false, error: errorBody(error) });
    }
  }
}

interface ConnectionHooks {
  onLine: (line: string, client: ControlConnection) => void;
  /** Called once, when the client is dropped for going past a bound. */
  onDrop: (reason: ControlDropReason, message: string) => void;
}

/** A token bucket: `burst` at once, refilled at `perSecond`. */
class Bucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  /** Takes one token; false when there is none left. */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One client connection: splits the byte stream into bounded lines and writes
 * replies, within the client's limits (see ControlClientLimits).
 */
class ControlConnection {
  readonly id: number;
  private readonly socket: Socket;
  private readonly maxLineBytes: number;
  private readonly limits: ControlClientLimits;
  private readonly hooks: ConnectionHooks;
  private readonly lifetime = new AbortController();
  private readonly frames: Bucket;
  private readonly malformedLines: Bucket;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private discardedBytes = 0;
  private dropped: ControlDropReason | undefined;

  constructor(id: number, socket: Socket, maxLineBytes: number, limits: ControlClientLimits, hooks: ConnectionHooks) {
    this.id = id;
    this.socket = socket;
    this.maxLineBytes = maxLineBytes;
    this.limits = limits;
    this.hooks = hooks;
    this.frames = new Bucket(limits.frameBurst, limits.framesPerSecond);
    this.malformedLines = new Bucket(limits.malformedBurst, limits.malformedPerSecond);
    socket.setNoDelay(true); // small request/reply lines: Nagle + delayed ACK would add ~40 ms each
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => log.debug('client socket error', { client: id, error: error.message }));
  }

  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  reply(reply: ControlReply): void {
    let line: string;
    try {
      line = `${JSON.stringify(reply)}\n`;
    } catch (error) {
      line = `${JSON.stringify({
        id: reply.id,
        ok: false,
        error: { code: ControlErrorCode.resultNotSerialisable, message: `reply is not JSON: ${(error as Error).message}` },
      })}\n`;
    }
    this.send(line);
  }

  /** The error reply to a line that was not a valid request; too many of them and the client is dropped instead. */
  malformed(reply: ControlReply): void {
    if (this.dropped) return;
    if (!this.malformedLines.take()) {
      this.drop(
        ControlDropReason.tooManyMalformedLines,
        `more than ${this.limits.malformedBurst} malformed lines (${this.limits.malformedPerSecond} a second forgiven); closing the connection`,
      );
      return;
    }
    this.reply(reply);
  }

  /** Queues a line for the client, unless what is queued already is past the bound: then the client is dropped. */
  send(line: string): void {
    if (this.dropped || this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.writableLength > this.limits.maxQueuedBytes) {
      this.drop(ControlDropReason.sendQueueFull, `more than ${this.limits.maxQueuedBytes} bytes queued for a client that does not read; closing the connection`);
      return;
    }
    this.socket.write(line);
  }

  abort(): void {
    this.lifetime.abort();
  }

  destroy(): void {
    this.abort();
    this.socket.destroy();
  }

  /**
   * Stops serving the client: nothing more it sends is read as a request, its
   * handlers are told (signal), it gets a last error line naming the reason
   * (behind whatever is queued), and the connection ends. A client that does
   * not close its end in closeGraceMs is cut off.
   */
  private drop(reason: ControlDropReason, message: string): void {
    if (this.dropped) return;
    this.dropped = reason;
    this.pending = [];
    this.pendingBytes = 0;
    this.abort();
    this.hooks.onDrop(reason, message);
    if (!this.socket.destroyed && this.socket.writable) {
      const last: ControlReply = { id: null, ok: false, error: { code: reason, message, failureClass: 'infra-error' } };
      this.socket.end(`${JSON.stringify(last)}\n`);
    }
    setTimeout(() => this.socket.destroy(), this.limits.closeGraceMs).unref();
  }

  /** Bounded line splitting: an over-long line is answered once and skipped up to its newline. */
  private receive(chunk: Buffer): void {
    let start = 0;
    while (start <= chunk.length) {
      // A dropped client's bytes are read (so that its close is seen) and ignored.
      if (this.dropped) return;
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (this.discarding) {
        this.discardedBytes += piece.length;
        if (this.discardedBytes > this.maxLineBytes + this.limits.maxDiscardBytes) {
          this.drop(ControlDropReason.lineTooLong, `a line longer than ${this.maxLineBytes + this.limits.maxDiscardBytes} bytes; closing the connection`);
          return;
        }
      } else if (this.pendingBytes + piece.length > this.maxLineBytes) {
        this.discardedBytes = this.pendingBytes; // the line's length so far; this piece is counted below
        this.pending = [];
        this.pendingBytes = 0;
        this.discarding = true;
        this.malformed({
          id: null,
          ok: false,
          error: { code: ControlErrorCode.lineTooLong, message: `line longer than ${this.maxLineBytes} bytes; discarded up to the next newline` },
        });
        continue; // looked at again: counted as discarded (dropped if already past the bound)
      } else if (piece.length > 0) {
        this.pending.push(piece);
        this.pendingBytes += piece.length;
      }
      if (newline === -1) return;
      start = newline + 1;
      if (this.discarding) {
        this.discarding = false;
        this.discardedBytes = 0;
        continue;
      }
      const line = Buffer.concat(this.pending).toString('utf8').replace(/\r$/, '');
      this.pending = [];
      this.pendingBytes = 0;
      if (line.trim() === '') continue;
      if (!this.frames.take()) {
        this.drop(
          ControlDropReason.frameRateExceeded,
          `more than ${this.limits.frameBurst} lines at once or ${this.limits.framesPerSecond} a second sustained; closing the connection`,
        );
        return;
      }
      this.hooks.onLine(line, this);
    }
  }
}

function isRequestId(value: unknown): value is ControlRequestId {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length > 0);
}

function withoutKey(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = object;
  return rest;
}

function errorBody(error: unknown): ControlErrorBody {
  if (error instanceof RigError) {
    return {
      code: error.code,
      message: error.message,
      failureClass: error.failureClass,
      ...(Object.keys(error.details).length ? { details: error.details } : {}),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: ControlErrorCode.handlerFailed, message, failureClass: 'infra-error' };
}

/** Ajv errors as messages that name the field: "'baudRate' must be integer", "'level' is required". */
export function describeSchemaErrors(errors: readonly ErrorObject[]): Array<{ field: string; message: string }> {
  return errors.map((error) => {
    const path = error.instancePath.split('/').slice(1).map(unescapePointer);
    if (error.keyword === 'required') {
      const field = [...path, String(error.params.missingProperty)].join('.');
      return { field, message: `'${field}' is required` };
    }
    if (error.keyword === 'additionalProperties') {
      const field = [...path, String(error.params.additionalProperty)].join('.');
      return { field, message: `'${field}' is not a known parameter` };
    }
    const field = path.join('.');
    const allowed = error.keyword === 'enum' ? ` (${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})` : '';
    return { field, message: `${field ? `'${field}'` : 'params'} ${error.message ?? 'is invalid'}${allowed}` };
  });
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
