import WebSocket from 'ws';
import type { DaemonEvent } from '../../../src/daemon/daemon-event.js';
import type { StreamControlMessage } from '../../../src/daemon/stream-protocol.js';
import { waitFor } from './temp-dir.js';

/** A test client of the event stream that records everything it receives. */
export class StreamClient {
  readonly events: DaemonEvent[] = [];
  readonly controls: StreamControlMessage[] = [];
  /** Events and control messages in arrival order. */
  readonly all: (DaemonEvent | StreamControlMessage)[] = [];
  closeCode: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as DaemonEvent | StreamControlMessage;
      this.all.push(message);
      if ('seq' in message && 'topic' in message) this.events.push(message);
      else this.controls.push(message as StreamControlMessage);
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Opens a connection; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new StreamClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(Object.assign(new Error(`refused with ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', (error) => reject(error));
    });
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  control<T extends StreamControlMessage['type']>(type: T): Extract<StreamControlMessage, { type: T }>[] {
    return this.controls.filter((c) => c.type === type) as Extract<StreamControlMessage, { type: T }>[];
  }

  async waitForControl(type: StreamControlMessage['type'], count = 1, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.control(type).length >= count, timeoutMs, `${count} '${type}' message(s)`);
  }

  async waitForEvents(count: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.events.length >= count, timeoutMs, `${count} events (have ${this.events.length})`);
  }

  /** The first event (already received or still to come) that satisfies `predicate`. */
  waitForEvent(predicate: (event: DaemonEvent) => boolean, timeoutMs: number, what: string): Promise<DaemonEvent> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ws.off('message', onMessage);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = () => {
        const event = this.events.find(predicate);
        if (!event) return;
        clearTimeout(timer);
        this.ws.off('message', onMessage);
        resolve(event);
      };
      this.ws.on('message', onMessage);
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
