import { expect } from 'chai';
import { connect } from 'node:net';
import { ConsoleLog } from '../../src/device/console-log.js';
import { TcpLineSource } from '../../src/device/tcp-line-source.js';
import { disconnect, EmulatorProcess, type ConnectedBoard } from '../helpers/emulator-process.js';
import { RestBoard } from '../helpers/rest-board.js';

/**
 * Each emulated output carries what the real board's does (../shared/spec/device-link.md):
 * the recovery UART the 1BL and Pluton lines of every boot, the debug UART only a
 * diagnostics stand-in, a debugged app's output its own TCP port, and the readable
 * trace only the emulator-only pty, which --no-trace removes.
 */
const ONE_BL = /^\[1BL\] BOOT: [0-9a-f]{8}\/[0-9a-f]{8}\/[0-9a-f]{8}$/;
const G_LINE = /^G=[0-9A-F]{128}$/;
const D_LINE = /^D=[0-9A-F]{128},N=[0-9A-F]{64}$/;
const DEV_APP = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_APP = '1b2c3d4e-5f60-4b7c-8d9e-0f1a2b3c4d5e';
const UART_APP = '2c3d4e5f-6071-4c8d-9eaf-1a2b3c4d5e6f';

describe('what each emulated UART carries', function () {
  this.timeout(120_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let recovery: ConsoleLog;
  let debug: ConsoleLog;

  before(async () => {
    emulator = await EmulatorProcess.start({ boards: 1 });
    board = await emulator.connect(0);
    recovery = await ConsoleLog.open({ path: board.surfaces.recoveryUart, name: 'recovery' });
    debug = await ConsoleLog.open({ path: board.surfaces.debugUart, name: 'debug' });
  });

  after(async () => {
    await recovery?.close();
    await debug?.close();
    await disconnect(board);
    await emulator?.stop();
  });

  it('prints the 1BL and Pluton boot lines on the recovery UART, in order, on every boot', async () => {
    for (const action of [() => board.control.request('power', { on: true }), () => board.control.request('reset', {})]) {
      const since = recovery.mark();
      const traceSince = board.console.mark();
      await action();
      const last = await recovery.expect('[PLUTON] Booting HLOS core', { since, timeoutMs: 20_000 });
      await board.console.expect('[OS] services up', { since: traceSince, timeoutMs: 20_000 });
      const texts = recovery.lines(since).filter((l) => l.seq <= last.seq).map((l) => l.text);
      expect(texts).to.have.length(5);
      expect(texts[0]).to.match(ONE_BL);
      expect(texts[1]).to.match(G_LINE);
      expect(texts[2]).to.match(D_LINE);
      expect(texts.slice(3)).to.deep.equal(['[PLUTON] Logging initialized', '[PLUTON] Booting HLOS core']);
    }
  });

  it('carries no OS or boot-stage text on either UART: that is only on the emulator-only trace', async () => {
    await debug.expect(/^MT3620 diagnostics: boot \d+$/, { since: 0, timeoutMs: 10_000 });
    expect(debug.lines().map((l) => l.text).filter((t) => !/^MT3620 diagnostics: boot \d+$/.test(t))).to.deep.equal([]);
    const recoveryTexts = recovery.lines().map((l) => l.text);
    expect(recoveryTexts.filter((t) => /^\[(ROM|OS|APP|NWL|SM|KERNEL)\]/.test(t))).to.deep.equal([]);
    expect(board.console.lines().some((l) => l.text === '[OS] services up')).to.equal(true);
  });

  it('prints the Pluton lines before RECOVERY when strapped for recovery, as captured on a real board', async () => {
    const since = recovery.mark();
    await board.control.request('strap', { recovery: true });
    await board.control.request('reset', {});
    const banner = await recovery.expect(/^RECOVERY$/, { since, timeoutMs: 20_000 });
    const before = recovery.lines(since).filter((l) => l.seq < banner.seq).map((l) => l.text);
    expect(before.slice(-2)).to.deep.equal(['[PLUTON] Logging initialized', '[PLUTON] Booting HLOS core']);
    expect(before[0]).to.match(ONE_BL);
    await board.control.request('strap', { recovery: false });
    const traceSince = board.console.mark();
    await board.control.request('reset', {});
    await board.console.expect('[OS] services up', { since: traceSince, timeoutMs: 20_000 });
  });
});

describe('the emulator without its trace (--no-trace)', function () {
  this.timeout(60_000);

  it('announces emulatorTrace as null and still boots, printing its boot lines on the recovery UART', async () => {
    const emulator = await EmulatorProcess.start({ boards: 1, trace: false });
    try {
      const surfaces = emulator.boards[0]!;
      expect(surfaces.emulatorTrace).to.equal(null);
      const recovery = await ConsoleLog.open({ path: surfaces.recoveryUart, name: 'recovery' });
      try {
        const control = await import('../../src/device/emulated/control-client.js').then((m) => m.ControlClient.connect({ port: surfaces.controlPort }));
        try {
          await control.request('power', { on: true });
          await recovery.expect('[PLUTON] Booting HLOS core', { since: 0, timeoutMs: 20_000 });
        } finally {
          await control.close();
        }
      } finally {
        await recovery.close();
      }
    } finally {
      await emulator.stop();
    }
  });
});

describe("a debugged app's output port (TCP 2342 on a real board)", function () {
  this.timeout(120_000);
  let rest: RestBoard;

  before(async () => {
    rest = await RestBoard.start();
  });

  after(async () => {
    await rest?.stop();
  });

  it("carries an app's output only while it runs in debug mode, and holds what it wrote until a host connects", async () => {
    const port = rest.surfaces.appOutputPort as number;
    expect(port).to.be.a('number');
    const developer = rest.client([11]);
    const app = rest.keys.app({ name: 'Talker', componentId: DEV_APP, development: true, behaviour: { log: ['hello from the app'] } }, 'development-app');
    await developer.sideload(rest.capability([11]));
    await developer.sideload(app);
    // Started normally by the sideload: its output reaches nobody.
    await developer.stopApp(DEV_APP);
    await developer.startAppForDebugging(DEV_APP);
    const source = new TcpLineSource({ host: '127.0.0.1', port, name: 'app-output' });
    try {
      const line = await new Promise<string>((resolve) => source.once('line', (received) => resolve(received.text)));
      expect(line).to.equal('hello from the app');
    } finally {
      await source.close();
    }
  });

  it("carries what an app writes to its ISU UART on the board's app UART pty, as a bench adapter would", async () => {
    const appUart = await ConsoleLog.open({ path: String(rest.surfaces.appUart), name: 'app-uart' });
    try {
      const developer = rest.client([11]);
      const since = appUart.mark();
      const writer = rest.keys.app({ name: 'Writer', componentId: UART_APP, development: true, behaviour: { uartLog: ['sensor says 42'] } }, 'development-app');
      await developer.sideload(writer);
      const line = await appUart.expect('sensor says 42', { since, timeoutMs: 10_000 });
      expect(line.text).to.equal('sensor says 42');
    } finally {
      await appUart.close();
    }
  });

  it('sends nothing for an app started normally', async () => {
    const port = rest.surfaces.appOutputPort as number;
    const developer = rest.client([11]);
    const quiet = rest.keys.app({ name: 'Quiet', componentId: OTHER_APP, development: true, behaviour: { log: ['from the normal start'] } }, 'development-app');
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setEncoding('utf8');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    try {
      const since = rest.board.console.mark();
      await developer.sideload(quiet);
      await rest.board.console.expect(`[APP] ${OTHER_APP}: from the normal start`, { since, timeoutMs: 10_000 });
      // A later debugged app's line comes after anything sent before it on the same stream.
      await developer.stopApp(DEV_APP);
      await developer.startAppForDebugging(DEV_APP);
      await new Promise<void>((resolve) => {
        const onData = (chunk: string): void => {
          received += chunk;
          if (!received.includes('hello from the app\n')) return;
          socket.off('data', onData);
          resolve();
        };
        socket.on('data', onData);
      });
      expect(received).to.equal('hello from the app\n');
    } finally {
      socket.destroy();
    }
  });
});
