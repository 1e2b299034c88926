import { expect } from 'chai';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ControlServer, type ControlClientLimits } from '../../../src/emulator/surfaces/control-server.js';
import { RawLineClient } from './raw-line-client.js';

/**
 * The control channel's bounds on one client (issue #15): a client that sends
 * too many malformed lines, too many lines at once, a line with no end, or that
 * does not read what it is sent is dropped with a last error line naming the
 * reason, the drop is counted, and other clients are served as before.
 *
 * The refill rates are 0 here so that what a test sees depends on counts only,
 * never on how fast the machine is.
 */
function listen(limits: Partial<ControlClientLimits>, maxLineBytes?: number): Promise<ControlServer> {
  return ControlServer.listen({ limits: { malformedPerSecond: 0, framesPerSecond: 0, ...limits }, ...(maxLineBytes ? { maxLineBytes } : {}) }).then((server) =>
    server.register('echo', {
      schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
      handler: (params) => ({ text: params.text }),
    }),
  );
}

const codeOf = (line: Record<string, unknown> | undefined): string | undefined => (line?.error as { code?: string } | undefined)?.code;

describe('ControlServer: bounds on what one client may cost', () => {
  const servers: ControlServer[] = [];
  const clients: RawLineClient[] = [];
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  const serve = async (limits: Partial<ControlClientLimits>, maxLineBytes?: number) => {
    const server = await listen(limits, maxLineBytes);
    servers.push(server);
    return server;
  };
  const client = async (server: ControlServer) => {
    const c = await RawLineClient.connect(server.port);
    clients.push(c);
    return c;
  };

  it('drops a client past the malformed-line bound, its last line naming why, and keeps serving the others', async () => {
    const server = await serve({ malformedBurst: 20 });
    const flooder = await client(server);
    const bystander = await client(server);
    flooder.send('x\n'.repeat(1000));
    const lines = await flooder.linesUntilClosed();
    expect(lines.slice(0, 20).map(codeOf)).to.deep.equal(Array(20).fill('malformed-json'));
    expect(lines).to.have.length(21);
    expect(lines[20]).to.deep.include({ id: null, ok: false });
    expect(lines[20]!.error).to.include({ code: 'too-many-malformed-lines', failureClass: 'infra-error' });
    expect(server.drops).to.deep.include({ 'too-many-malformed-lines': 1, 'frame-rate-exceeded': 0, 'send-queue-full': 0, 'line-too-long': 0 });
    bystander.send('{"id": 1, "cmd": "echo", "text": "still served"}\n');
    expect(await bystander.next()).to.deep.equal({ id: 1, ok: true, result: { text: 'still served' } });
  });

  it('counts unknown commands and bad params as malformed lines too', async () => {
    const server = await serve({ malformedBurst: 3 });
    const c = await client(server);
    c.send('{"id": 1, "cmd": "nope"}\n{"id": 2, "cmd": "echo"}\n[1]\n{"id": 4, "cmd": "echo", "text": 4}\n');
    const lines = await c.linesUntilClosed();
    expect(lines.map(codeOf)).to.deep.equal(['unknown-command', 'invalid-params', 'not-an-object', 'too-many-malformed-lines']);
  });

  it('drops a client that sends more lines at once than the frame bound, valid ones included', async () => {
    const server = await serve({ frameBurst: 50 });
    const c = await client(server);
    c.send(Array.from({ length: 50 }, (_, i) => `{"id": ${i}, "cmd": "echo", "text": "t${i}"}\n`).join(''));
    expect((await c.nextMany(50)).every((l) => l.ok === true)).to.equal(true);
    c.send('{"id": 50, "cmd": "echo", "text": "one too many"}\n');
    const lines = await c.linesUntilClosed();
    expect(lines.map(codeOf)).to.deep.equal(['frame-rate-exceeded']);
    expect((lines[0]!.error as { message: string }).message).to.include('more than 50 lines at once');
    expect(server.drops['frame-rate-exceeded']).to.equal(1);
  });

  it('answers one over-long line and skips it, but drops a client whose line never ends', async () => {
    const server = await serve({ maxDiscardBytes: 8192 }, 1024);
    const c = await client(server);
    c.send(`${'y'.repeat(4096)}\n{"id": 1, "cmd": "echo", "text": "after"}\n`);
    expect(codeOf(await c.next())).to.equal('line-too-long');
    expect(await c.next()).to.deep.equal({ id: 1, ok: true, result: { text: 'after' } });
    c.send('z'.repeat(20_000));
    const lines = await c.linesUntilClosed();
    expect(lines.map(codeOf)).to.deep.equal(['line-too-long', 'line-too-long']);
    expect((lines[1]!.error as { message: string }).message).to.include('closing the connection');
    expect(server.drops['line-too-long']).to.equal(1);
  });

  it('drops a client that does not read once more than the bound is queued for it, and counts it', async () => {
    const server = await serve({ maxQueuedBytes: 256 * 1024, closeGraceMs: 50 });
    const reader = await client(server);
    const silent = connect({ host: '127.0.0.1', port: server.port });
    sockets.push(silent);
    silent.pause(); // never reads
    silent.on('error', () => undefined);
    await once(silent, 'connect');
    // A round trip on the reader proves both connections are registered before the broadcasts.
    reader.send('{"id": 1, "cmd": "echo", "text": "x"}\n');
    await reader.next();
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    const payload = 'e'.repeat(64 * 1024);
    // Far more than the kernel's socket buffers hold; without the bound it all waits in the server's memory.
    let sent = 0;
    for (; sent < 1024 && server.drops['send-queue-full'] === 0; sent += 1) {
      server.broadcast('blob', { payload });
      // The reader keeps up, so only the silent client falls behind.
      expect((await reader.next()).event).to.equal('blob');
    }
    expect(server.drops['send-queue-full'], `dropped after ${sent} events of 64 KiB`).to.equal(1);
    silent.resume(); // see the close (a paused socket does not read the FIN)
    await closed;
    server.broadcast('after', {});
    expect((await reader.next()).event).to.equal('after');
  });

  it("tells a dropped client's running handlers it has gone", async () => {
    const server = await serve({ malformedBurst: 1 });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const aborted = new Promise<void>((resolve) => {
      server.register('hold', {
        schema: { type: 'object' },
        handler: (_params, context) =>
          new Promise((done) => {
            context.signal.addEventListener('abort', () => {
              resolve();
              done({});
            });
            started();
          }),
      });
    });
    const c = await client(server);
    c.send('{"id": 1, "cmd": "hold"}\n');
    await running;
    c.send('x\nx\n');
    await aborted;
    expect((await c.linesUntilClosed()).map(codeOf)).to.deep.equal(['malformed-json', 'too-many-malformed-lines']);
  });
});
