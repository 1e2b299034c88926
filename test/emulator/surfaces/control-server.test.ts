import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ControlServer } from '../../../src/emulator/surfaces/control-server.js';
import { CONTROL_MAX_LINE_BYTES } from '../../../src/emulator/surfaces/control-protocol.js';
import { InputError, RigError } from '../../../src/util/failure.js';
import { RawLineClient } from './raw-line-client.js';

function buildServer(): Promise<ControlServer> {
  return ControlServer.listen().then((server) =>
    server
      .register('echo', {
        schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
        handler: (params) => ({ text: params.text }),
      })
      .register('power', {
        schema: {
          type: 'object',
          properties: { state: { enum: ['on', 'off'] }, delayMs: { type: 'integer', minimum: 0 } },
          required: ['state'],
          additionalProperties: false,
        },
        handler: async (params) => ({ state: params.state }),
      })
      .register('fail-typed', {
        schema: { type: 'object' },
        handler: () => {
          throw new RigError('device-fault', 'board-on-fire', 'the board is on fire', { celsius: 900 });
        },
      })
      .register('fail-plain', {
        schema: { type: 'object' },
        handler: async () => {
          throw new Error('oops');
        },
      })
      .register('wait-for-disconnect', {
        schema: { type: 'object' },
        handler: (_params, context) =>
          new Promise((resolve) => context.signal.addEventListener('abort', () => resolve({ aborted: true }), { once: true })),
      }),
  );
}

describe('ControlServer: the emulator control channel (JSON lines over loopback TCP)', () => {
  let server: ControlServer;
  let client: RawLineClient;

  beforeEach(async () => {
    server = await buildServer();
    client = await RawLineClient.connect(server.port);
  });

  afterEach(async () => {
    await client.close();
    await server.close();
  });

  it('listens on 127.0.0.1 on a free port by default', () => {
    expect(server.host).to.equal('127.0.0.1');
    expect(server.port).to.be.greaterThan(0);
  });

  it('answers a command with its result, echoing a numeric or string id', async () => {
    client.send('{"id": 1, "cmd": "echo", "text": "hello"}\n');
    expect(await client.next()).to.deep.equal({ id: 1, ok: true, result: { text: 'hello' } });
    client.send('{"id": "abc", "cmd": "power", "state": "on"}\r\n');
    expect(await client.next()).to.deep.equal({ id: 'abc', ok: true, result: { state: 'on' } });
  });

  it('reads requests split across packets and several requests in one packet', async () => {
    client.send('{"id": 1, "cmd": "ec');
    client.send('ho", "text": "a"}\n{"id": 2, "cmd": "echo", "text": "b"}\n\n');
    const replies = await client.nextMany(2);
    expect(replies.map((r) => r.id).sort()).to.deep.equal([1, 2]);
  });

  it('pushes events to every connected client', async () => {
    const other = await RawLineClient.connect(server.port);
    try {
      // A round trip on each proves both connections are registered before the broadcast.
      client.send('{"id": 1, "cmd": "echo", "text": "x"}\n');
      other.send('{"id": 1, "cmd": "echo", "text": "x"}\n');
      await client.next();
      await other.next();
      server.broadcast('power', { state: 'off', event: 'ignored' });
      expect(await client.next()).to.deep.equal({ event: 'power', state: 'off' });
      expect(await other.next()).to.deep.equal({ event: 'power', state: 'off' });
    } finally {
      await other.close();
    }
  });

  it('answers malformed JSON with malformed-json and id null', async () => {
    client.send('{"id": 1, "cmd": \n');
    expect(await client.next()).to.deep.include({ id: null, ok: false });
    expect(((await sendAndRead(client, 'not json at all\n')).error as { code: string }).code).to.equal('malformed-json');
  });

  it('answers lines that are not objects with not-an-object', async () => {
    for (const line of ['[1,2,3]', '42', '"string"', 'null', 'true']) {
      const reply = await sendAndRead(client, `${line}\n`);
      expect((reply.error as { code: string }).code, line).to.equal('not-an-object');
    }
  });

  it('answers requests without a usable id or cmd with invalid-request', async () => {
    expect(errorOf(await sendAndRead(client, '{"cmd": "echo", "text": "x"}\n'))).to.include({ code: 'invalid-request' });
    expect(errorOf(await sendAndRead(client, '{"id": {"a": 1}, "cmd": "echo"}\n'))).to.include({ code: 'invalid-request' });
    const noCmd = await sendAndRead(client, '{"id": 5}\n');
    expect(noCmd.id).to.equal(5);
    expect(errorOf(noCmd)).to.include({ code: 'invalid-request' });
  });

  it('answers an unknown command with unknown-command and lists the known ones', async () => {
    const reply = await sendAndRead(client, '{"id": 3, "cmd": "self-destruct"}\n');
    expect(reply.id).to.equal(3);
    const error = errorOf(reply);
    expect(error.code).to.equal('unknown-command');
    expect(error.message).to.include('self-destruct');
    expect((error.details as { known: string[] }).known).to.include('echo');
  });

  it('validates params against the schema, naming the field in the message', async () => {
    const wrongType = errorOf(await sendAndRead(client, '{"id": 1, "cmd": "echo", "text": 5}\n'));
    expect(wrongType.code).to.equal('invalid-params');
    expect(wrongType.message).to.include("'text' must be string");

    const missing = errorOf(await sendAndRead(client, '{"id": 2, "cmd": "echo"}\n'));
    expect(missing.message).to.include("'text' is required");

    const extra = errorOf(await sendAndRead(client, '{"id": 3, "cmd": "echo", "text": "a", "volume": 11}\n'));
    expect(extra.message).to.include("'volume' is not a known parameter");

    const badEnum = errorOf(await sendAndRead(client, '{"id": 4, "cmd": "power", "state": "sideways", "delayMs": -1}\n'));
    expect(badEnum.message).to.include("'state' must be equal to one of the allowed values");
    expect(badEnum.message).to.include("'delayMs' must be >= 0");
    expect((badEnum.details as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).to.have.members(['state', 'delayMs']);
  });

  it("passes a handler's typed error through with its code and failure class", async () => {
    const error = errorOf(await sendAndRead(client, '{"id": 1, "cmd": "fail-typed"}\n'));
    expect(error).to.deep.equal({ code: 'board-on-fire', message: 'the board is on fire', failureClass: 'device-fault', details: { celsius: 900 } });
    const plain = errorOf(await sendAndRead(client, '{"id": 2, "cmd": "fail-plain"}\n'));
    expect(plain).to.include({ code: 'handler-failed', message: 'oops', failureClass: 'infra-error' });
  });

  it('answers a 1 MiB line once with line-too-long, discards it, and keeps serving', async () => {
    client.send(`{"id": 1, "cmd": "echo", "text": "${'x'.repeat(1024 * 1024)}"}\n`);
    const reply = await client.next();
    expect(reply).to.deep.include({ id: null, ok: false });
    expect(errorOf(reply).code).to.equal('line-too-long');
    expect(await sendAndRead(client, '{"id": 2, "cmd": "echo", "text": "still here"}\n')).to.deep.equal({ id: 2, ok: true, result: { text: 'still here' } });
  });

  it('accepts a line of exactly the limit and refuses one byte more', async () => {
    const frame = (length: number): string => {
      const head = '{"id": 1, "cmd": "echo", "text": "';
      return `${head}${'y'.repeat(length - head.length - 2)}"}`;
    };
    expect(Buffer.byteLength(frame(CONTROL_MAX_LINE_BYTES))).to.equal(CONTROL_MAX_LINE_BYTES);
    expect((await sendAndRead(client, `${frame(CONTROL_MAX_LINE_BYTES)}\n`)).ok).to.equal(true);
    expect(errorOf(await sendAndRead(client, `${frame(CONTROL_MAX_LINE_BYTES + 1)}\n`)).code).to.equal('line-too-long');
  });

  it('answers 200 garbage lines with 200 errors and then still answers a valid command', async () => {
    const garbage: string[] = [];
    for (let i = 0; i < 200; i += 1) {
      garbage.push(
        [`{{{${i}`, `[${i}]`, `{"id": ${i}}`, `{"id": ${i}, "cmd": "nope"}`, `{"id": ${i}, "cmd": "echo", "text": ${i}}`][i % 5] as string,
      );
    }
    client.send(`${garbage.join('\n')}\n`);
    const replies = await client.nextMany(200);
    expect(replies.every((r) => r.ok === false)).to.equal(true);
    expect(await sendAndRead(client, '{"id": "after", "cmd": "echo", "text": "ok"}\n')).to.deep.include({ id: 'after', ok: true });
  });

  it('survives random binary garbage, invalid UTF-8 included', async () => {
    let lines = 0;
    for (let i = 0; i < 50; i += 1) {
      const junk = randomBytes(200).filter((b) => b !== 0x0a);
      client.send(Buffer.concat([junk, Buffer.from('\n')]));
      if (Buffer.from(junk).toString('utf8').replace(/\r$/, '').trim() !== '') lines += 1;
    }
    await client.nextMany(lines);
    expect((await sendAndRead(client, '{"id": 9, "cmd": "echo", "text": "alive"}\n')).ok).to.equal(true);
  });

  it('serves many clients at once, each getting its own replies', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => RawLineClient.connect(server.port)));
    try {
      await Promise.all(
        clients.map(async (c, n) => {
          for (let i = 0; i < 10; i += 1) c.send(`{"id": ${i}, "cmd": "echo", "text": "c${n}-${i}"}\n`);
          const replies = await c.nextMany(10);
          const texts = replies.map((r) => (r.result as { text: string }).text).sort();
          expect(texts).to.deep.equal(Array.from({ length: 10 }, (_, i) => `c${n}-${i}`).sort());
        }),
      );
      expect(server.clientCount).to.equal(21);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('tells a handler when its client has gone, through the context signal', async () => {
    let started!: () => void;
    let aborted!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const handlerAborted = new Promise<void>((resolve) => (aborted = resolve));
    server.register('watch', {
      schema: { type: 'object' },
      handler: (_params, context) =>
        new Promise((resolve) => {
          context.signal.addEventListener('abort', () => {
            aborted();
            resolve({});
          });
          started();
        }),
    });
    const watcher = await RawLineClient.connect(server.port);
    watcher.send('{"id": 1, "cmd": "watch"}\n');
    await handlerStarted;
    await watcher.close();
    await handlerAborted;
  });

  it('ends every connection on close, and close is idempotent', async () => {
    const other = await RawLineClient.connect(server.port);
    client.send('{"id": 1, "cmd": "wait-for-disconnect"}\n');
    await Promise.all([server.close(), server.close()]);
    await client.closed();
    await other.closed();
    expect(client.socketClosed && other.socketClosed).to.equal(true);
  });

  it('refuses to listen on anything but a literal loopback address', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.35.1', '10.0.0.1', 'localhost', 'example.com', '']) {
      const error = await ControlServer.listen({ host }).then(
        (s) => s.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error, host).to.be.instanceOf(InputError);
      expect((error as InputError).code, host).to.equal('non-loopback-address');
    }
    const v6 = await ControlServer.listen({ host: '::1' }).catch(() => undefined);
    await v6?.close(); // ::1 is allowed where the host has IPv6 loopback
  });

  it('refuses a command with an invalid schema or a duplicate name at registration', () => {
    expect(() => server.register('bad-schema', { schema: { type: 'object', propertiez: {} }, handler: () => ({}) }))
      .to.throw(InputError)
      .with.property('code', 'invalid-command-schema');
    expect(() => server.register('echo', { schema: { type: 'object' }, handler: () => ({}) }))
      .to.throw(InputError)
      .with.property('code', 'duplicate-command');
  });
});

async function sendAndRead(client: RawLineClient, line: string): Promise<Record<string, unknown>> {
  client.send(line);
  return client.next();
}

function errorOf(reply: Record<string, unknown>): { code: string; message: string; details?: unknown; failureClass?: string } {
  expect(reply.ok).to.equal(false);
  return reply.error as { code: string; message: string };
}
