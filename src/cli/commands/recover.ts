import type { Command } from 'commander';
import { isIPv4 } from 'node:net';
import { EmulatedPins } from '../../device/emulated/emulated-pins.js';
import { ControlClient } from '../../device/emulated/control-client.js';
import { recoverBoard, type RecoveryResult } from '../../device/recovery-client.js';
import type { RecoveryProgress } from '../../device/recovery-progress.js';
import { RigError } from '../../util/failure.js';
import { action, UsageError } from '../action.js';
import { readInputFile } from '../files.js';
import { parseCount } from '../parse-options.js';
import { ProgressBar } from '../progress-bar.js';

interface RecoverFlags {
  port?: string;
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

/** `sphere-rig recover`: one board, through its recovery UART, from any state to a known image set. */
export function registerRecoverCommand(program: Command): void {
  program
    .command('recover')
    .description('Recover a board through its recovery UART: rewrite its whole flash from a recovery image set')
    .option('--port <path>', 'serial device of the recovery UART (a real board: its FTDI interface D; an emulated board: its recovery pty)')
    .option('--images <dir>', 'recovery image set folder (see `sphere-rig recovery build`)')
    .option('--capability <file>', 'device capability image to install during the recovery (e.g. AppDevelopment)')
    .option('--control <host:port>', "an emulated board's control channel, which drives its strap and reset pins")
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

Pins: real boards (FTDI bit-bang) are not driven yet; give --control for an
emulated board (its control port, as \`sphere-rig emulator run\` prints it).

Exit codes: 0 recovered; 3 infrastructure error (port, pins, image folder);
4 device fault (the device refused or broke the protocol); 5 timeout (the step
is named); 6 cancelled (Ctrl-C); 7 not applicable (no pins for this board).

Example:
  sphere-rig recover --port /dev/pts/7 --images out/recovery-23.01 --control 127.0.0.1:40123`,
    )
    .action(
      action(async (flags: RecoverFlags) => {
        if (!flags.port || !flags.images) throw new UsageError('recover needs --port PATH and --images DIR');
        if (!flags.control) {
          throw new RigError(
            'not-applicable',
            'recovery-pins-unavailable',
            'driving a real board\'s strap and reset pins (FTDI bit-bang) is not implemented yet; pass --control HOST:PORT of an emulated board',
          );
        }
        const { host, port } = parseControl(flags.control);
        const timeoutMs = flags.timeout === undefined ? undefined : parseCount(flags.timeout, '--timeout', 1, 86_400) * 1000;
        const capability = flags.capability ? readInputFile(flags.capability, 'capability image') : undefined;
        const controller = new AbortController();
        const onSignal = (): void => controller.abort(new RigError('cancelled', 'interrupted', 'interrupted by a signal'));
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const control = await ControlClient.connect({ host, port, signal: controller.signal });
        const reporter = progressReporter(flags);
        try {
          const result = await recoverBoard({
            port: flags.port,
            images: flags.images,
            ...(capability ? { capability } : {}),
            pins: new EmulatedPins(control),
            lowSpeed: flags.lowSpeed === true,
            deviceLogs: flags.deviceLogs === true,
            onProgress: reporter.progress,
            signal: controller.signal,
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
          });
          reporter.finish();
          if (flags.json) process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
          else process.stdout.write(summary(flags.port, result));
        } finally {
          reporter.finish();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await control.close();
        }
      }),
    );
}

function parseControl(text: string): { host: string; port: number } {
  const match = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+)$/.exec(text.trim());
  if (!match || (match[1] !== undefined && !isIPv4(match[1]))) throw new UsageError(`--control must be HOST:PORT (a loopback address) or PORT, got ${JSON.stringify(text)}`);
  return { host: match[1] ?? '127.0.0.1', port: parseCount(match[2]!, '--control port', 1, 65535) };
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
