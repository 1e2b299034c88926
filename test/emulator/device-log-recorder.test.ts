import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVICE_LOG_FILE, DeviceLogRecorder } from '../../src/emulator/device-log-recorder.js';
import type { EmulatedBoard } from '../../src/emulator/emulated-board.js';
import type { OsLogEvent } from '../../src/emulator/os-log-messages.js';
import { decodeDeviceLog } from '../../src/firmware/device-log/device-log-decoder.js';

/** The recorder keeps the board's log in its state folder, bank by bank, like flash. */
describe('emulator: the device log recorder', () => {
  let dir: string;
  let board: EmulatedBoard;
  const osVersion = (version: string, uptimeMs = 0): OsLogEvent => ({ message: 'osVersion', args: [version], uptimeMs });
  const onDisk = () => decodeDeviceLog(readFileSync(join(dir, DEVICE_LOG_FILE)));
  const versions = () => onDisk().entries.map((e) => e.params[0]!.value);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-device-log-'));
    board = Object.assign(new EventEmitter(), { dir, name: 'board-test' }) as unknown as EmulatedBoard;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes each os-log event to the file at once, with the board uptime as its timestamp', () => {
    const recorder = DeviceLogRecorder.open(board);
    board.emit('os-log', osVersion('22.11', 2092));
    const log = onDisk();
    expect(log.bytes).to.equal(16 * 4096);
    expect(log.entries.map((e) => e.line)).to.deep.equal(['[    2.092000] Info gatewayd(169): OS build information (osversion: 22.11)']);
    expect(recorder.bytes().equals(readFileSync(join(dir, DEVICE_LOG_FILE)))).to.equal(true);
    recorder.close();
  });

  it('goes on after its last entry when opened again (an emulator restart), and wraps on disk', () => {
    let recorder = DeviceLogRecorder.open(board, { banks: 2 });
    board.emit('os-log', osVersion('first'));
    recorder.close();
    recorder = DeviceLogRecorder.open(board, { banks: 2 });
    board.emit('os-log', osVersion('second'));
    expect(versions()).to.deep.equal(['first', 'second']);
    // 18-byte entries: 227 per bank; 600 more wrap the two banks.
    for (let n = 0; n < 600; n++) board.emit('os-log', osVersion(`v${String(n).padStart(4, '0')}`));
    recorder.close();
    const kept = versions();
    expect(kept.at(-1)).to.equal('v0599');
    expect(kept, 'the oldest bank was erased for the newest').to.have.length(600 + 2 - 227);
    expect(kept[0]).not.to.equal('first');
    expect(onDisk().startBank).to.equal(1);
  });

  it('an event the encoder refuses is dropped; the board and the log go on', () => {
    const recorder = DeviceLogRecorder.open(board);
    board.emit('os-log', { message: 'osVersion', args: [42], uptimeMs: 0 });
    board.emit('os-log', osVersion('22.11'));
    expect(versions()).to.deep.equal(['22.11']);
    recorder.close();
  });

  it('a log file of another size is replaced by an erased one', () => {
    writeFileSync(join(dir, DEVICE_LOG_FILE), Buffer.alloc(100));
    const recorder = DeviceLogRecorder.open(board, { banks: 1 });
    board.emit('os-log', osVersion('22.11'));
    expect(readFileSync(join(dir, DEVICE_LOG_FILE)).length).to.equal(4096);
    expect(versions()).to.deep.equal(['22.11']);
    recorder.close();
  });
});
