import type { Command } from 'commander';
import { EmulatedPins } from '../../device/emulated/emulated-pins.js';
import { ControlClient } from '../../device/emulated/control-client.js';
import type { BoardPins } from '../../device/board-pins.js';
import { openFtdiPinsBySerial } from '../../device/mt3620/ftdi-pins-by-serial.js';
import { isUsbAccessError } from '../../link/usb-access-error.js';
import { recoverBoard, type RecoveryResult } from '../../device/recovery-client.js';
import type { RecoveryProgress } from '../../device/recovery-progress.js';
import { RigError } from '../../util/failure.js';
import { action, UsageError } from '../action.js';
import { ExitCode } from '../exit-codes.js';
import { readInputFile } from '../files.js';
import { parseCount, parseLoopbackFlag } from '../parse-options.js';
import { ProgressBar } from '../progress-bar.js';

interface RecoverFlags {
  port?: string;
  usbSerial?: string;
  images?: string;
  capability?: string;
  control?: string;
  lowSpeed?: boolean;
  deviceLogs?: boolean;
  timeout?: string;
  json?: boolean;
}

/** JSON progress lines for transfers are thinned to this cadence; steps and device reports always go out. */
const JSON_TRANSFER_INTERVAL_MS = 250;
/** How long finding the board on the USB bus may take. */
const USB_FIND_TIMEOUT_MS = 15_000;

/** `sphere-rig recover`: one board, through its recovery UART, from any state to a known image set. */
export function registerRecoverCommand(program: Command): void {
  program
    .command('recover')
    .description('Recover a board through its recovery UART: rewrite its whole flash from a recovery image set')
    .option('--port <path>', 'serial device of the recovery UART (a real board: its FTDI interface D, found by --usb-serial when left out; an emulated board: its recovery pty)')
    .option('--images <dir>', 'recovery image set folder (see `sphere-rig recovery build`)')
    .option('--capability <file>', 'device capability image to install during the recovery (e.g. AppDevelopment)')
    .option('--control <host:port>', "an emulated board's control channel, which drives its strap and reset pins: a loopback HOST:PORT, or PORT for 127.0.0.1:PORT")
    .option('--usb-serial <serial>', "a real board on this host, by its USB serial: its FTDI pins drive strap (AD3) and reset (BD6); --port defaults to its interface D tty")
    .option('--low-speed', 'image at 115200 baud with RTS/CTS instead of 3,000,000')
    .option('--device-logs', 'ask the device for its log entries and print them')
    .option('--timeout <seconds>', 'give up after this long in all (default: only the per-step timeouts apply)')
    .option('--json', 'print progress as JSON lines and the result as one JSON object (for CI)')
    .addHelpText(
      'after',
      `
What happens:
  1. the recovery strap is raised and the board reset: it starts in ROM recovery
     and prints RECOVERY; the strap is released again at once
  2. the recovery 1BL is sent by XMODEM-CRC at 115200 8N1 (no flow control)
  3. the device asks for the capability image, the recovery runtime, then
     switches the line to 3,000,000 baud with RTS/CTS (115200 with --low-speed),
     erases its flash and asks for the manifest and every image it lists
  4. the device writes the set and reboots into it; its device ID is unchanged
The device checks every file's signature and type; a refused file ends the
recovery with the device's RecoveryError code and text, and the board stays in
ROM, ready for another recovery.

Pins: give --usb-serial for a real board (FTDI bit-bang: the strap on AD3 of
interface A, reset on BD6 of interface B; the udev rule in rigs/udev grants the
access; \`sphere-rig boards discover\` lists the serials), or --control for an
emulated board (its control port, as \`sphere-rig emulator run\` prints it).

Exit codes: 0 recovered; 3 infrastructure error (port, pins, image folder);
4 device fault (the device refused or broke the protocol); 5 timeout (the step
is named); 6 cancelled (Ctrl-C); 7 not applicable (no pins for this board); 8 no USB access
(no USB bus on this host, or no permission: install the udev rule).

Examples:
  sphere-rig recover --usb-serial 9A0B1C2D --images out/recovery-23.01
  sphere-rig recover --port /dev/pts/7 --images out/recovery-23.01 --control 127.0.0.1:40123`,
    )
    .action(
      action(async (flags: RecoverFlags) => {
        if (!flags.images) throw new UsageError('recover needs --images DIR');
        if (flags.control && flags.usbSerial) throw new UsageError('give --control (an emulated board) or --usb-serial (a real board), not both');
        if (!flags.control && !flags.usbSerial) {
          throw new RigError('not-applicable', 'recovery-pins-unavailable', 'no pins to take the board into recovery: pass --usb-serial SERIAL for a real board or --control HOST:PORT for an emulated one');
        }
        if (!flags.port && !flags.usbSerial) throw new UsageError('recover needs --port PATH (the recovery UART) with --control');
        const timeoutMs = flags.timeout === undefined ? undefined : parseCount(flags.timeout, '--timeout', 1, 86_400) * 1000;
        const capability = flags.capability ? readInputFile(flags.capability, 'capability image') : undefined;
        const controller = new AbortController();
        const onSignal = (): void => controller.abort(new RigError('cancelled', 'interrupted', 'interrupted by a signal'));
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let target: { pins: BoardPins; port: string; close(): Promise<void> };
        try {
          target = await openTarget(flags, controller.signal);
        } catch (error) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          if (!isUsbAccessError(error)) throw error;
          if (flags.json) process.stdout.write(`${JSON.stringify({ ok: false, error: error.toJSON() })}\n`);
          process.stderr.write(`sphere-rig: no USB access: ${error.message}\n`);
          return ExitCode.noUsb;
        }
        const reporter = progressReporter(flags);
        try {
          const result = await recoverBoard({
            port: target.port,
            images: flags.images,
            ...(capability ? { capability } : {}),
            pins: target.pins,
            lowSpeed: flags.lowSpeed === true,
            deviceLogs: flags.deviceLogs === true,
            onProgress: reporter.progress,
            signal: controller.signal,
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
          });
          reporter.finish();
          if (flags.json) process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
          else process.stdout.write(summary(target.port, result));
        } finally {
          reporter.finish();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await target.close();
        }
      }),
    );
}

/** The board's pins and recovery UART: an emulated board's control channel, or a real board's FTDI device found by serial. */
async function openTarget(flags: RecoverFlags, signal: AbortSignal): Promise<{ pins: BoardPins; port: string; close(): Promise<void> }> {
  if (flags.control) {
    const { host, port } = parseLoopbackFlag(flags.control, '--control', { use: 'connect', barePort: true });
    const control = await ControlClient.connect({ host, port, signal });
    return { pins: new EmulatedPins(control), port: flags.port!, close: () => control.close() };
  }
  const board = await openFtdiPinsBySerial(flags.usbSerial!, { timeoutMs: USB_FIND_TIMEOUT_MS, signal });
  const port = flags.port ?? board.recoveryTty;
  if (!port) {
    await board.close();
    throw new RigError('infra-error', 'recovery-uart-missing', `board ${flags.usbSerial}: no tty for interface D (the recovery UART); is ftdi_sio bound to it? Give --port to name it`);
  }
  return { pins: board.pins, port, close: () => board.close() };
}

/** How progress is shown: a bar on a terminal, JSON lines with --json, plain step lines otherwise. */
function progressReporter(flags: RecoverFlags): { progress: (p: RecoveryProgress) => void; finish: () => void } {
  if (flags.json) {
    let lastTransfer = 0;
    return {
      progress: (p) => {
        if (p.kind === 'transfer') {
          const now = Date.now();
          if (now - lastTransfer < JSON_TRANSFER_INTERVAL_MS && p.chunkSentBytes !== p.chunkBytes) return;
          lastTransfer = now;
        }
        process.stdout.write(`${JSON.stringify({ event: 'progress', ...p })}\n`);
      },
      finish: () => undefined,
    };
  }
  if (process.stderr.isTTY) {
    const bar = new ProgressBar(process.stderr);
    let imageBytes = 0;
    return {
      progress: (p) => {
        if (p.kind === 'device-log') {
          bar.finish();
          process.stderr.write(`device: ${p.text}\n`);
          return;
        }
        if (p.kind === 'device-progress') imageBytes = 0;
        if (p.kind === 'transfer' && p.stage === 'images') imageBytes = (p.chunkOffset ?? 0) + (p.chunkSentBytes ?? 0);
        if (p.totalBytes) {
          const done = p.totalBytes - (p.bytesRemaining ?? p.totalBytes) + imageBytes;
          const images = p.imageCount === undefined ? '' : ` image ${Math.min(p.imageCount, p.imageCount - (p.imagesRemaining ?? p.imageCount) + 1)}/${p.imageCount}`;
          bar.update(done / p.totalBytes, `${p.stage}${images}, ${kib(done)}/${kib(p.totalBytes)}`, p.kind === 'step');
        } else {
          bar.update(undefined, `${p.stage}: ${kib(p.xmodemBytes)} sent${p.file ? ` (${p.file})` : ''}`, p.kind === 'step');
        }
      },
      finish: () => bar.finish(),
    };
  }
  return {
    progress: (p) => {
      if (p.kind === 'step') process.stderr.write(`recovery: ${p.stage}\n`);
      if (p.kind === 'device-log') process.stderr.write(`device: ${p.text}\n`);
    },
    finish: () => undefined,
  };
}

function summary(port: string, result: RecoveryResult): string {
  const seconds = result.durationMs / 1000;
  return [
    `${port}: recovered device ${result.deviceId.slice(0, 16)}… in ${seconds.toFixed(1)} s`,
    `  ${result.imageCount} images, ${result.totalBytes} bytes; ${result.xmodemBytes} bytes by XMODEM (${result.retransmissions} blocks resent)`,
    `  imaging at ${result.line.baudRate} baud${result.line.rtsCts ? ' with RTS/CTS' : ''}${result.capabilitySent ? '; capability image installed' : ''}`,
    '  the device reboots into the new image set',
    '',
  ].join('\n');
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}
