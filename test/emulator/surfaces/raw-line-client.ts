import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A bare TCP client for poking the control server with arbitrary bytes and reading its JSON lines. */
export class RawLineClient {
  private readonly socket: Socket;
  private readonly messages: Array<Record<string, unknown>> = [];
  private readonly waiting: Array<(message: Record<string, unknown>) => void> = [];
  private partial = '';

  static async connect(port: number): Promise<RawLineClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawLineClient(socket);
  }

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('error', () => undefined); // a reset when the server closes is expected; 'close' follows
    socket.on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop() ?? '';
      for (const part of parts) {
        const message = JSON.parse(part) as Record<string, unknown>;
        const next = this.waiting.shift();
        if (next) next(message);
        else this.messages.push(message);
      }
    });
  }

  get socketClosed(): boolean {
    return this.socket.closed;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next line the server sent, parsed; fails after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const ready = this.messages.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(deliver), 1);
        reject(new Error(`no message from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      const deliver = (message: Record<string, unknown>): void => {
        clearTimeout(timer);
        resolve(message);
      };
      this.waiting.push(deliver);
    });
  }

  async nextMany(count: number, timeoutMs = 5000): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < count; i += 1) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Resolves when the connection is closed (events.once would reject on the reset that precedes it). */
  closed(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Every message not yet taken, and any still to come, once the server has closed the connection. */
  async linesUntilClosed(): Promise<Array<Record<string, unknown>>> {
    await this.closed();
    return this.messages.splice(0);
  }

  async close(): Promise<void> {
    const closed = this.closed();
    this.socket.destroy();
    await closed;
  }
}
