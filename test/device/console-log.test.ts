import { expect } from 'chai';
import { ConsoleError, type ConsoleLine } from '../../src/device/console-history.js';
import { ConsoleLog } from '../../src/device/console-log.js';
import { PtyUart } from '../../src/emulator/surfaces/pty-uart.js';

/** Resolves with the next `count` lines the console records. */
function nextLines(console: ConsoleLog, count: number): Promise<ConsoleLine[]> {
  return new Promise((resolve) => {
    const lines: ConsoleLine[] = [];
    const onLine = (line: ConsoleLine): void => {
      lines.push(line);
      if (lines.length === count) {
        console.off('line', onLine);
        resolve(lines);
      }
    };
    console.on('line', onLine);
  });
}

describe('ConsoleLog: a board debug console as the host sees it', () => {
  let uart: PtyUart;
  let consoleLog: ConsoleLog;

  beforeEach(async () => {
    uart = await PtyUart.open({ name: 'debug' });
    consoleLog = await ConsoleLog.open({ path: uart.path, name: 'debug' });
  });

  afterEach(async () => {
    await consoleLog.close();
    await uart.close();
  });

  it('keeps every line with a sequence number and an arrival timestamp', async () => {
    const before = Date.now();
    const arrived = nextLines(consoleLog, 3);
    await uart.write('1BL: starting\nSecurity Monitor: verifying\nNormal World: booted\n');
    const lines = await arrived;
    const after = Date.now();
    expect(lines.map((l) => l.text)).to.deep.equal(['1BL: starting', 'Security Monitor: verifying', 'Normal World: booted']);
    expect(lines.map((l) => l.seq)).to.deep.equal([1, 2, 3]);
    for (const line of lines) expect(line.timestamp).to.be.within(before, after);
    expect(consoleLog.lines()).to.deep.equal(lines);
  });

  it('strips the CR of CRLF line ends but keeps other carriage returns and empty lines', async () => {
    const arrived = nextLines(consoleLog, 4);
    await uart.write('dos line\r\nunix line\n\r\nprogress 10%\rprogress 20%\n');
    expect((await arrived).map((l) => l.text)).to.deep.equal(['dos line', 'unix line', '', 'progress 10%\rprogress 20%']);
  });

  it('assembles a line that arrives in pieces', async () => {
    const arrived = nextLines(consoleLog, 1);
    await uart.write('Normal W');
    await uart.write('orld: bo');
    await uart.write('oted\r\n');
    expect((await arrived)[0]?.text).to.equal('Normal World: booted');
  });

  it('resolves expect on the first matching line after the call, by regex or substring', async () => {
    const byRegex = consoleLog.expect(/app (\w+) started/, { timeoutMs: 2000 });
    const bySubstring = consoleLog.expect('[wifi] connected', { timeoutMs: 2000 });
    await uart.write('noise\napp blink started\n[wifi] connected to rig\napp other started\n');
    expect((await byRegex).text).to.equal('app blink started');
    expect((await bySubstring).text).to.equal('[wifi] connected to rig');
  });

  it('does not let a global regex remember where it last matched', async () => {
    const pattern = /ready/g;
    const arrived = nextLines(consoleLog, 2);
    await uart.write('ready one\nready two\n');
    await arrived;
    expect((await consoleLog.expect(pattern, { timeoutMs: 500, since: 1 })).seq).to.equal(1);
    expect((await consoleLog.expect(pattern, { timeoutMs: 500, since: 1 })).seq).to.equal(1);
  });

  it('with since, finds a line that arrived before the call: no race between an action and its expect', async () => {
    const mark = consoleLog.mark();
    const arrived = nextLines(consoleLog, 2);
    await uart.write('reset requested\nROM: recovery mode\n');
    await arrived; // the line is already in before anyone expects it
    const line = await consoleLog.expect(/recovery mode/, { timeoutMs: 500, since: mark });
    expect(line).to.include({ seq: mark + 1, text: 'ROM: recovery mode' });
  });

  it('without since, ignores lines from before the call', async () => {
    const arrived = nextLines(consoleLog, 1);
    await uart.write('boot done\n');
    await arrived;
    const expecting = consoleLog.expect('boot done', { timeoutMs: 2000 });
    await uart.write('boot done again\n');
    expect((await expecting).text).to.equal('boot done again');
  });

  it('times out with a typed timeout error naming the pattern and the last lines', async () => {
    const arrived = nextLines(consoleLog, 2);
    await uart.write('Security Monitor: image signature bad\nhalting\n');
    await arrived;
    const error = (await consoleLog.expect(/Normal World: booted/, { timeoutMs: 100 }).catch((e: unknown) => e)) as ConsoleError;
    expect(error).to.be.instanceOf(ConsoleError);
    expect(error).to.include({ failureClass: 'timeout', code: 'console-expect-timeout' });
    expect(error.message).to.include('/Normal World: booted/');
    expect(error.message).to.include('halting');
    expect(error.details.lastLines).to.deep.equal(['Security Monitor: image signature bad', 'halting']);
  });

  it('rejects as cancelled when the signal aborts, or has already', async () => {
    const controller = new AbortController();
    const expecting = consoleLog.expect('never', { timeoutMs: 5000, signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await expecting).to.include({ failureClass: 'cancelled', code: 'cancelled' });
    expect(await consoleLog.expect('never', { timeoutMs: 5000, signal: controller.signal }).catch((e: unknown) => e)).to.include({
      failureClass: 'cancelled',
    });
  });

  it('rejects pending expects when the console is closed, and closes idempotently', async () => {
    const expecting = consoleLog.expect('never', { timeoutMs: 5000 }).catch((e: unknown) => e);
    await consoleLog.close();
    await consoleLog.close();
    expect(await expecting).to.include({ failureClass: 'infra-error', code: 'console-closed' });
    expect(consoleLog.closed).to.equal(true);
  });

  it('keeps only the last maxLines lines and counts the dropped ones', async () => {
    const small = await PtyUart.open({ name: 'small' });
    const bounded = await ConsoleLog.open({ path: small.path, maxLines: 3 });
    try {
      const arrived = nextLines(bounded, 5);
      await small.write('l1\nl2\nl3\nl4\nl5\n');
      await arrived;
      expect(bounded.lines().map((l) => l.text)).to.deep.equal(['l3', 'l4', 'l5']);
      expect(bounded.droppedLines).to.equal(2);
      expect((await bounded.expect('l', { timeoutMs: 100, since: 1 })).text).to.equal('l3');
    } finally {
      await bounded.close();
      await small.close();
    }
  });

  it('grows its store without losing order across many lines', async () => {
    const count = 3000;
    const arrived = nextLines(consoleLog, count);
    await uart.write(Array.from({ length: count }, (_, i) => `line ${i}\n`).join(''));
    await arrived;
    const lines = consoleLog.lines();
    expect(lines).to.have.length(count);
    expect(lines.every((l, i) => l.seq === i + 1 && l.text === `line ${i}`)).to.equal(true);
    expect(consoleLog.lines(2999).map((l) => l.text)).to.deep.equal(['line 2998', 'line 2999']);
  });

  it('notices the device going away (UART closed) and rejects pending expects as an infrastructure error', async () => {
    const doomed = await PtyUart.open({ name: 'doomed' });
    const watched = await ConsoleLog.open({ path: doomed.path, presenceCheckMs: 20 });
    try {
      const expecting = watched.expect('never', { timeoutMs: 5000 }).catch((e: unknown) => e);
      await doomed.close();
      expect(await expecting).to.include({ failureClass: 'infra-error', code: 'console-device-gone' });
      expect(watched.closed).to.equal(true);
    } finally {
      await watched.close();
    }
  });

  it('fails to open a path that does not exist with a typed infrastructure error', async () => {
    const error = await ConsoleLog.open({ path: '/dev/pts/does-not-exist' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ConsoleError);
    expect(error).to.include({ failureClass: 'infra-error', code: 'console-open-failed' });
  });
});
