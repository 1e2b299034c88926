import { expect } from 'chai';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../helpers/emulator-process.js';
import { runCli } from '../helpers/run-cli.js';

/** Sends raw lines to a control port and collects one reply per line. */
async function rawExchange(port: number, lines: string[]): Promise<Array<Record<string, unknown>>> {
  const socket = new Socket();
  socket.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const replies: Array<Record<string, unknown>> = [];
  const reader = createInterface({ input: socket });
  const done = new Promise<void>((resolve) =>
    reader.on('line', (line) => {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (!('event' in value)) replies.push(value);
      if (replies.length === lines.length) resolve();
    }),
  );
  socket.write(lines.map((l) => `${l}\n`).join(''));
  await done;
  socket.destroy();
  return replies;
}

describe('the emulator program', function () {
  this.timeout(60_000);
  let emulator: EmulatorProcess | undefined;
  let board: ConnectedBoard | undefined;

  afterEach(async () => {
    await disconnect(board);
    board = undefined;
    await emulator?.stop();
    emulator = undefined;
  });

  it('prints each board with its device ID, ptys and control port as JSON', async () => {
    emulator = await EmulatorProcess.start({ boards: 3 });
    expect(emulator.boards).to.have.length(3);
    const ids = new Set(emulator.boards.map((b) => b.deviceId));
    expect(ids.size).to.equal(3);
    for (const b of emulator.boards) {
      expect(b.deviceId).to.match(/^[0-9a-f]{128}$/);
      expect(b.debugUart).to.match(/^\/dev\/pts\/\d+$/);
      expect(b.recoveryUart).to.match(/^\/dev\/pts\/\d+$/);
      expect(b.controlHost).to.equal('127.0.0.1');
    }
  });

  it('answers malformed, unknown and absurd control requests with errors and keeps running', async () => {
    emulator = await EmulatorProcess.start({ boards: 1 });
    const port = emulator.boards[0]!.controlPort;
    const replies = await rawExchange(port, [
      '{not json',
      '[1,2,3]',
      '{"id":1,"cmd":"self-destruct"}',
      '{"id":2,"cmd":"power"}',
      '{"id":3,"cmd":"power","on":"yes"}',
      '{"id":4,"cmd":"clock","advanceMs":-5}',
      '{"id":5,"cmd":"clock","advanceMs":1e300}',
      '{"id":6,"cmd":"power-cut","beforeOperation":0}',
      '{"id":7,"cmd":"corrupt","slot":"z","imageType":7}',
      '{"id":8,"cmd":"install","images":["!!!"]}',
      '{"id":9,"cmd":"reset"}',
      '{"id":10,"cmd":"info"}',
    ]);
    // Replies may come back in any order: match them by id (lines without one get id null).
    const byId = new Map(replies.map((r) => [r.id ?? null, r]));
    expect(replies.filter((r) => r.id !== 10 && r.ok !== false), JSON.stringify(replies)).to.deep.equal([]);
    expect(replies.filter((r) => r.id === null || r.id === undefined)).to.have.length(2);
    expect((byId.get(1)?.error as { code: string }).code).to.equal('unknown-command');
    for (const id of [2, 3, 4, 5, 6, 7]) expect((byId.get(id)?.error as { code: string }).code, `request ${id}`).to.equal('invalid-params');
    expect(byId.get(10)).to.deep.include({ ok: true });
    board = await emulator.connect(0);
    await powerOnAndWaitForServices(board);
  });

  it('stops cleanly on SIGINT and boots again from the same flash', async () => {
    emulator = await EmulatorProcess.start({ boards: 1 });
    const stateDir = emulator.stateDir;
    board = await emulator.connect(0);
    await powerOnAndWaitForServices(board);
    await disconnect(board);
    board = undefined;
    const exited = once(emulator.child, 'exit');
    emulator.child.kill('SIGINT');
    const [code] = await exited;
    expect(code).to.equal(0);
    expect(emulator.stderr.join('\n')).to.contain('emulator stopped');
    const again = await EmulatorProcess.start({ stateDir });
    try {
      const b = await again.connect(0);
      await b.control.request('power', { on: true });
      await b.console.expect('[OS] services up', { timeoutMs: 10_000 });
      await disconnect(b);
    } finally {
      await again.stop();
    }
  });

  it('refuses to run a state folder that was never provisioned, naming it', async () => {
    const result = await runCli(['emulator', 'run', '--state', '/nonexistent/sphere-rig-state']);
    expect(result.code).to.equal(3);
    expect(result.stderr).to.contain('/nonexistent/sphere-rig-state: no emulator state here');
  });

  it('boots 100 boards in one process in fast mode within 1.5 GiB of RSS', async function () {
    this.timeout(180_000);
    emulator = await EmulatorProcess.start({ boards: 100, poweredOff: false });
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${emulator.child.pid}/status`, 'utf8'))![1]);
    // Every board must have come up: ask each one.
    const { ControlClient } = await import('../../src/device/emulated/control-client.js');
    let ready = 0;
    for (const b of emulator.boards) {
      const control = await ControlClient.connect({ port: b.controlPort });
      for (let tries = 0; tries < 100; tries++) {
        const info = await control.request('info', {});
        if (info.state === 'ready') {
          ready++;
          break;
        }
        await control.waitForEvent((e) => e.event === 'state', { timeoutMs: 5_000 }).catch(() => undefined);
      }
      await control.close();
    }
    expect(ready).to.equal(100);
    console.log(`      100 boards ready, emulator RSS ${(rssKiB / 1024).toFixed(0)} MiB`);
    expect(rssKiB * 1024).to.be.lessThan(1.5 * 1024 ** 3);
  });
});
