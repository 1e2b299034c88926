import { expect } from 'chai';
import { setTimeout as delay } from 'node:timers/promises';
import { ControlClient, ControlError } from '../../../src/device/emulated/control-client.js';
import { ControlServer } from '../../../src/emulator/surfaces/control-server.js';
import { RigError } from '../../../src/util/failure.js';

async function buildServer(): Promise<ControlServer> {
  const server = await ControlServer.listen();
  return server
    .register('reset', {
      schema: { type: 'object', properties: { holdMs: { type: 'integer', minimum: 0 } }, additionalProperties: false },
      handler: (params) => {
        server.broadcast('reset', { holdMs: params.holdMs ?? 0 });
        return { done: true };
      },
    })
    .register('after', {
      // Replies after `ms`, so concurrent requests are answered out of order.
      schema: { type: 'object', properties: { ms: { type: 'integer' }, tag: { type: 'string' } }, required: ['ms', 'tag'] },
      handler: async (params) => {
        await delay(params.ms as number);
        return { tag: params.tag };
      },
    })
    .register('hang', {
      schema: { type: 'object' },
      handler: (_params, context) =>
        new Promise((resolve) => context.signal.addEventListener('abort', () => resolve({}), { once: true })),
    })
    .register('fault', {
      schema: { type: 'object' },
      handler: () => {
        throw new RigError('device-fault', 'flash-worn-out', 'flash write failed');
      },
    });
}

describe('ControlClient: the host end of an emulated board control channel', () => {
  let server: ControlServer;
  let client: ControlClient;

  beforeEach(async () => {
    server = await buildServer();
    client = await ControlClient.connect({ host: '127.0.0.1', port: server.port, timeoutMs: 2000 });
  });

  afterEach(async () => {
    await client.close();
    await server.close();
  });

  it('sends a command and resolves with its result', async () => {
    expect(await client.request('reset', { holdMs: 10 })).to.deep.equal({ done: true });
  });

  it('correlates concurrent replies by id, whatever order they come back in', async () => {
    const results = await Promise.all([
      client.request('after', { ms: 60, tag: 'slow' }),
      client.request('after', { ms: 0, tag: 'fast' }),
      client.request('after', { ms: 30, tag: 'middle' }),
    ]);
    expect(results.map((r) => r.tag)).to.deep.equal(['slow', 'fast', 'middle']);
  });

  it("rejects with the server's code, as an infrastructure error, for a refused request", async () => {
    const unknown = await client.request('explode').catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(ControlError);
    expect(unknown).to.include({ code: 'unknown-command', failureClass: 'infra-error' });

    const badParams = (await client.request('reset', { holdMs: 'long' }).catch((e: unknown) => e)) as ControlError;
    expect(badParams.code).to.equal('invalid-params');
    expect(badParams.message).to.include("'holdMs' must be integer");
  });

  it("keeps the failure class a handler's typed error carries", async () => {
    const error = (await client.request('fault').catch((e: unknown) => e)) as ControlError;
    expect(error).to.be.instanceOf(RigError);
    expect(error).to.include({ code: 'flash-worn-out', failureClass: 'device-fault' });
  });

  it('refuses parameters named id or cmd', async () => {
    const error = (await client.request('reset', { id: 3 }).catch((e: unknown) => e)) as ControlError;
    expect(error.code).to.equal('reserved-param');
  });

  it('delivers pushed events to listeners and to waitForEvent', async () => {
    const seen: unknown[] = [];
    client.on('event', (event) => seen.push(event));
    const waited = client.waitForEvent((event) => event.event === 'reset' && event.holdMs === 25, { timeoutMs: 2000 });
    await client.request('reset', { holdMs: 5 });
    await client.request('reset', { holdMs: 25 });
    expect(await waited).to.deep.equal({ event: 'reset', holdMs: 25 });
    expect(seen).to.deep.equal([
      { event: 'reset', holdMs: 5 },
      { event: 'reset', holdMs: 25 },
    ]);
  });

  it('times out a request the server does not answer, as a timeout, and keeps working', async () => {
    const started = Date.now();
    const error = (await client.request('hang', {}, { timeoutMs: 100 }).catch((e: unknown) => e)) as ControlError;
    expect(error).to.include({ failureClass: 'timeout', code: 'control-timeout' });
    expect(error.message).to.include('hang');
    expect(Date.now() - started).to.be.within(90, 2000);
    expect(await client.request('reset')).to.deep.equal({ done: true });
  });

  it('cancels a request when its signal aborts, and refuses one whose signal already has', async () => {
    const controller = new AbortController();
    const pending = client.request('hang', {}, { signal: controller.signal, timeoutMs: 5000 }).catch((e: unknown) => e);
    controller.abort();
    expect(await pending).to.include({ failureClass: 'cancelled', code: 'cancelled' });
    expect(await client.request('reset', {}, { signal: controller.signal }).catch((e: unknown) => e)).to.include({ failureClass: 'cancelled' });
  });

  it('times out and cancels waits for events', async () => {
    const timedOut = (await client.waitForEvent(() => true, { timeoutMs: 50 }).catch((e: unknown) => e)) as ControlError;
    expect(timedOut).to.include({ failureClass: 'timeout', code: 'control-event-timeout' });
    const controller = new AbortController();
    const waiting = client.waitForEvent(() => true, { signal: controller.signal, timeoutMs: 5000 }).catch((e: unknown) => e);
    controller.abort();
    expect(await waiting).to.include({ failureClass: 'cancelled' });
  });

  it('rejects pending requests and waits as infrastructure errors when the server goes away', async () => {
    const pending = client.request('hang', {}, { timeoutMs: 5000 }).catch((e: unknown) => e);
    const waiting = client.waitForEvent(() => false, { timeoutMs: 5000 }).catch((e: unknown) => e);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await server.close();
    await closed;
    expect(await pending).to.include({ failureClass: 'infra-error', code: 'control-connection-lost' });
    expect(await waiting).to.include({ failureClass: 'infra-error', code: 'control-connection-lost' });
    expect(client.closed).to.equal(true);
    expect(await client.request('reset').catch((e: unknown) => e)).to.include({ code: 'control-connection-lost' });
  });

  it('reports a refused connection as an infrastructure error', async () => {
    const gone = await ControlServer.listen();
    const port = gone.port;
    await gone.close();
    const error = (await ControlClient.connect({ port, timeoutMs: 2000 }).catch((e: unknown) => e)) as ControlError;
    expect(error).to.include({ failureClass: 'infra-error', code: 'control-connect-failed' });
  });

  it('refuses to connect anywhere but a literal loopback address', async () => {
    for (const host of ['192.168.35.2', '0.0.0.0', 'localhost', 'example.com']) {
      const error = (await ControlClient.connect({ host, port: server.port }).catch((e: unknown) => e)) as ControlError;
      expect(error.code, host).to.equal('non-loopback-address');
    }
  });

  it('honours an aborted signal while connecting', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await ControlClient.connect({ port: server.port, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).to.include({ failureClass: 'cancelled' });
  });

  it('closes idempotently, failing later requests as closed', async () => {
    await client.close();
    await client.close();
    expect(await client.request('reset').catch((e: unknown) => e)).to.include({ code: 'control-closed', failureClass: 'infra-error' });
  });
});
