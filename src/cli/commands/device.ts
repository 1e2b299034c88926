import type { Command } from 'commander';
import { DeviceRestClient, REAL_DEVICE_CA_PATH } from '../../device/rest/device-rest-client.js';
import type { ComponentDetails } from '../../device/rest/device-rest-types.js';
import { IMAGE_TYPE_NAMES } from '../../image/image-types.js';
import { action, UsageError } from '../action.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { parseCount } from '../parse-options.js';
import { RigError } from '../../util/failure.js';

/**
 * `sphere-rig device ...`: one board through its device REST API, real or
 * emulated: the same client, a different base URL and pinned CA.
 */
interface DeviceFlags {
  board: string;
  ca?: string;
  capability?: string;
  json?: boolean;
  timeout?: string;
}

const DEFAULT_BOARD_URL = 'https://192.168.35.2';

const CAPABILITY_NAMES: Readonly<Record<number, string>> = {
  1: 'AllowTestKeySignedSoftware',
  2: 'EnablePlutonDebugging',
  3: 'EnableA7Debugging',
  4: 'EnableN9Debugging',
  5: 'EnableA7GdbDebugging',
  6: 'EnableIoM41Debugging',
  7: 'EnableIoM42Debugging',
  8: 'EnableA7Console',
  9: 'EnableSltLoader',
  10: 'EnableSystemSoftwareDevelopment',
  11: 'AppDevelopment',
  12: 'EnableRFTestMode',
  13: 'FieldServicing',
};

const CONNECTION_HELP = `
Connection:
  --board URL        https://192.168.35.2 (default: a real board on the service link) or
                     https://127.0.0.1:PORT (an emulated board: restUrl in \`emulator run --json\`)
  --ca CA.pem        the CA the board's TLS certificate must chain to (default: Microsoft's
                     "Azure Sphere Device" CA in fixtures/; an emulated rig's is <state>/rest-ca/ca.cert.pem)
  --capability FILE  a capability image for this device, sent as AZSPHERE-CAPABILITIES
                     (what \`azsphere device capability select\` does), for boards without
                     AppDevelopment or FieldServicing installed
Exit codes: 0 ok, 1 the device refused (its error code and message are printed),
3 the board could not be reached or is not the one the CA vouches for, 5 timeout, 6 cancelled.`;

function withConnection(command: Command): Command {
  return command
    .option('--board <url>', 'base URL of the board\'s REST API', DEFAULT_BOARD_URL)
    .option('--ca <ca.pem>', 'CA certificate to pin (default: Microsoft\'s Azure Sphere Device CA)')
    .option('--capability <file>', 'capability image to send with every request')
    .option('--timeout <ms>', 'timeout of each request in milliseconds')
    .option('--json', 'print one JSON object')
    .addHelpText('after', CONNECTION_HELP);
}

function openClient(flags: DeviceFlags): DeviceRestClient {
  const caPem = readInputFile(flags.ca ?? REAL_DEVICE_CA_PATH, 'CA certificate');
  const capabilityImage = flags.capability ? readInputFile(flags.capability, 'capability image') : undefined;
  const timeoutMs = flags.timeout === undefined ? undefined : parseCount(flags.timeout, '--timeout', 1, 3_600_000);
  return new DeviceRestClient({ baseUrl: flags.board, caPem, capabilityImage, timeoutMs });
}

/** Runs one device operation with a client and Ctrl-C as cancellation. */
async function withClient<T>(flags: DeviceFlags, run: (client: DeviceRestClient, signal: AbortSignal) => Promise<T>): Promise<T> {
  const client = openClient(flags);
  const controller = new AbortController();
  const cancel = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', cancel);
  try {
    return await run(client, controller.signal);
  } finally {
    process.off('SIGINT', cancel);
    client.close();
  }
}

function print(flags: DeviceFlags, json: Record<string, unknown>, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify({ ok: true, ...json })}\n` : text);
}

function checkComponentId(id: string): string {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id)) throw new UsageError(`component ID must be a GUID, got ${JSON.stringify(id)}`);
  return id.toLowerCase();
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;

/**
 * Sideload progress on stderr: a line rewritten in place on a terminal, else a
 * line at each quarter so that logs stay short.
 */
export function sideloadProgress(stream: NodeJS.WriteStream = process.stderr): { update: (sent: number, total: number) => void; done: () => void } {
  let lastDraw = 0;
  let lastQuarter = -1;
  let drawn = false;
  return {
    update: (sent, total) => {
      const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
      if (stream.isTTY) {
        const now = Date.now();
        if (sent !== total && now - lastDraw < 100) return;
        lastDraw = now;
        drawn = true;
        stream.write(`\rsideload: ${String(percent).padStart(3)}% (${mib(sent)} of ${mib(total)})`);
      } else {
        const quarter = Math.floor(percent / 25);
        if (quarter === lastQuarter) return;
        lastQuarter = quarter;
        stream.write(`sideload: ${percent}% (${sent} of ${total} bytes)\n`);
      }
    },
    done: () => {
      if (stream.isTTY && drawn) stream.write('\n');
    },
  };
}

function renderComponents(components: ComponentDetails[]): string {
  const lines = components.map((c) => {
    const type = c.image_type === undefined ? '?' : `${c.image_type} ${IMAGE_TYPE_NAMES[c.image_type] ?? ''}`.trim();
    const image = c.images?.[0];
    const size = image?.length_in_bytes === undefined ? '' : `${image.length_in_bytes} bytes`;
    return `  ${c.uid ?? '?'}  ${type.padEnd(22)} ${(c.name ?? '').padEnd(22)} ${size}${c.is_update_staged ? '  (update staged)' : ''}`;
  });
  return `${components.length} component(s):\n${lines.join('\n')}\n`;
}

export function registerDeviceCommands(program: Command): void {
  const device = program
    .command('device')
    .description('Talk to one board through its device REST API (real boards on 192.168.35.x, emulated ones on 127.0.0.1)')
    .addHelpText(
      'after',
      `
Every subcommand takes --board URL, --ca CA.pem, --capability FILE, --timeout MS and --json.

Examples:
  sphere-rig device status                                   # a real board on the service link
  sphere-rig device images --board https://127.0.0.1:40123 --ca .sphere-rig/emulator/rest-ca/ca.cert.pem \\
    --capability dev.cap                                     # an emulated board (restUrl from emulator run --json)
  sphere-rig device app status 1689d8b2-c835-2e27-27ad-e894d6d15fa9 --json`,
    );

  withConnection(device.command('status').description('Uptime, OS version and the REST API version the board speaks')).action(
    action((flags: DeviceFlags) =>
      withClient(flags, async (client, signal) => {
        const status = await client.status({ signal });
        const osVersion = await client.osVersion({ signal });
        print(flags, { uptime: status.uptime, apiVersion: status.apiVersion ?? null, osVersion }, `uptime ${status.uptime} s, OS ${osVersion}, REST API ${status.apiVersion ?? 'unknown'}\n`);
      }),
    ),
  );

  withConnection(device.command('security-state').description("The board's security state and device ID")).action(
    action((flags: DeviceFlags) =>
      withClient(flags, async (client, signal) => {
        const state = await client.securityState({ signal });
        print(flags, { ...state }, `security state ${state.securityState ?? 'unknown'}\ndevice ID ${state.deviceIdentifier ?? 'unknown'}\n`);
      }),
    ),
  );

  withConnection(device.command('images').description('The components installed on the board (OS images, capability, apps)')).action(
    action((flags: DeviceFlags) =>
      withClient(flags, async (client, signal) => {
        const list = await client.images({ signal });
        print(flags, { ...list }, renderComponents(list.components ?? []));
      }),
    ),
  );

  withConnection(device.command('capabilities').description('The capabilities installed on the board (11 AppDevelopment, 13 FieldServicing...)')).action(
    action((flags: DeviceFlags) =>
      withClient(flags, async (client, signal) => {
        const capabilities = await client.capabilities({ signal });
        const text = capabilities.length ? capabilities.map((c) => `${c} ${CAPABILITY_NAMES[c] ?? 'unknown'}`).join('\n') : 'no capabilities installed';
        print(flags, { capabilities }, `${text}\n`);
      }),
    ),
  );

  withConnection(
    device
      .command('sideload')
      .argument('<file>', 'an image package (.imagepackage): an app, a capability image or an OS image')
      .option('--manual', 'leave an installed app stopped (appControlMode Manual)')
      .description('Stage an image package on the board and install it (PUT /update/stage, POST /update/install)')
      .addHelpText(
        'after',
        `
Progress goes to stderr. The board checks the package before anything changes: a
refusal (exit 1) names the device's error, e.g. 7340047 "Image not trusted by
device" for a development-signed app without AppDevelopment, 14680082 for no
space, 7340071 while an over-the-air update is in progress.

Example:
  sphere-rig device sideload app.imagepackage --board https://127.0.0.1:40123 \\
    --ca .sphere-rig/emulator/rest-ca/ca.cert.pem --capability dev.cap`,
      ),
  ).action(
    action((file: string, flags: DeviceFlags & { manual?: boolean }) =>
      withClient(flags, async (client, signal) => {
        const image = readInputFile(file, 'image package');
        const progress = sideloadProgress();
        let result;
        try {
          result = await client.sideload(image, { signal, onProgress: progress.update, appControlMode: flags.manual ? 'Manual' : undefined });
        } finally {
          progress.done();
        }
        print(flags, { file, bytes: image.length, restartingSystem: result.restartingSystem }, `${file}: installed (${image.length} bytes)${result.restartingSystem ? '; the board is restarting' : ''}\n`);
      }),
    ),
  );

  const app = device.command('app').description('Start, stop or show one application by component ID');
  for (const [name, summary] of [
    ['start', 'Start an installed application'],
    ['stop', 'Stop a running application'],
    ['status', "Show an application's state: running, stopped, debugging or notPresent"],
  ] as const) {
    withConnection(app.command(name).argument('<componentId>', "the app's component ID (a GUID)").description(summary)).action(
      action((id: string, flags: DeviceFlags) =>
        withClient(flags, async (client, signal) => {
          const componentId = checkComponentId(id);
          const state = name === 'status' ? await client.appStatus(componentId, { signal }) : (await client.setAppState(componentId, name, { signal })).state;
          print(flags, { componentId, state }, `${componentId}: ${state}\n`);
        }),
      ),
    );
  }

  withConnection(
    device
      .command('restart')
      .option('--wait', 'wait (up to a minute) until the board has gone down and answers again')
      .description('Restart the board (it drops off the link while it boots)'),
  ).action(
    action((flags: DeviceFlags & { wait?: boolean }) =>
      withClient(flags, async (client, signal) => {
        // Read before the restart: the board is up again once it answered with a clock that started over.
        const before = flags.wait ? { uptime: (await client.status({ signal })).uptime, at: Date.now() } : undefined;
        await client.restart({ signal });
        if (before) await waitUntilRestarted(client, signal, before);
        print(flags, { restarted: true, up: flags.wait === true }, flags.wait ? 'restarted; the board is up\n' : 'restarting\n');
      }),
    ),
  );

  registerDeviceLogCommand(device);

  withConnection(
    device
      .command('telemetry')
      .option('-o, --out <file>', 'write the error report to a file instead of stdout')
      .option('--clear', 'clear the pending report on the board after reading it')
      .description('Read the pending error report (GET /telemetry)')
      .addHelpText('after', '\nThe bytes are the device\'s own; an emulated board sends UTF-8 JSON ("sphere-rig/error-report", see README).'),
  ).action(
    action((flags: DeviceFlags & { out?: string; clear?: boolean }) =>
      withClient(flags, async (client, signal) => {
        const report = await client.telemetry({ signal });
        // Saved before it is cleared: a bad path or a full disk must not cost the board's only copy.
        if (flags.out) writeOutputFile(flags.out, report);
        if (flags.clear) await client.clearTelemetry({ signal });
        if (flags.json) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(report.toString('utf8'));
          } catch {
            parsed = undefined;
          }
          print(flags, { bytes: report.length, cleared: flags.clear === true, ...(parsed === undefined ? { base64: report.toString('base64') } : { report: parsed }) }, '');
        } else if (flags.out) {
          process.stdout.write(`${flags.out}: ${report.length} bytes${flags.clear ? '; cleared on the board' : ''}\n`);
        } else {
          process.stdout.write(report);
          if (report.length && report[report.length - 1] !== 0x0a) process.stdout.write('\n');
        }
      }),
    ),
  );
}

function registerDeviceLogCommand(device: Command): void {
  withConnection(
    device
      .command('log')
      .option('-o, --out <file>', 'also save the raw log (AzureSphere_DeviceLog .bin) to a file')
      .option('--in <file>', 'decode a saved device log instead of asking a board (no --board needed)')
      .description("Read and decode the board's device log (GET /log): one line per entry, as Microsoft's parse-devicelog.py prints it")
      .addHelpText(
        'after',
        `
The log is the binary ring of 4096-byte banks a device keeps in flash
(../shared/spec/device-log-format.md), decoded with the OS 24.06 log manifests:
  [    2.092000] Info appman_init(1): Appman started and log server ready
Entries are in the order the ring holds them (oldest bank first); timestamps are
seconds since that boot, so they start over at each boot. Error codes are named
from the catalog (see sphere-rig explain CODE). GET /log needs AppDevelopment or
FieldServicing (--capability). Entries of an unknown module or message are printed
as the parser prints them and reported on stderr with their byte offset.

--json prints {"ok":true,"bytes":N,"bankCount":N,"startBank":N,"entries":[...],"problems":[...]},
each entry with offset, timestampMs, priorityName, categoryName, messageName, message, params
(name, type, value; uniqueId also guid, the canonical GUID; commonError also error) and line.

Exit codes: 2 a bad flag or a malformed --in file, 4 the board sent a malformed log (the
byte offset is named); and those of every device command.

Examples:
  sphere-rig device log --board https://127.0.0.1:40123 --ca .sphere-rig/emulator/rest-ca/ca.cert.pem --capability field.cap
  sphere-rig device log --in AzureSphere_DeviceLog_113.bin --json`,
      ),
  ).action(
    action(async (flags: DeviceFlags & { out?: string; in?: string }) => {
      const { decodeDeviceLogFile, printDeviceLog } = await import('../device-log-output.js');
      if (flags.in) {
        printDeviceLog(decodeDeviceLogFile(readInputFile(flags.in, 'device log'), flags.in), flags.json === true);
        return;
      }
      await withClient(flags, async (client, signal) => {
        const { decodeBoardLog } = await import('../../device/rest/device-log-reader.js');
        const bytes = await client.log({ signal });
        // Saved before decoding: a malformed log is exactly the one worth keeping.
        if (flags.out) writeOutputFile(flags.out, bytes);
        printDeviceLog(decodeBoardLog(bytes), flags.json === true);
      });
    }),
  );
}

/**
 * Polls /status, within one minute, until the board has restarted and answers
 * again: an answer after one that failed (it went down), or one whose uptime
 * is below what it would be had the board kept running. An answer from the
 * board before it went down does not count.
 */
async function waitUntilRestarted(client: DeviceRestClient, signal: AbortSignal, before: { uptime: number; at: number }): Promise<void> {
  const deadline = Date.now() + 60_000;
  let wentDown = false;
  let lastError: unknown;
  while (Date.now() <= deadline) {
    const uptime = await client.status({ signal, timeoutMs: 2_000 }).then(
      (status) => status.uptime,
      (error: unknown) => {
        if (signal.aborted) throw error;
        lastError = error;
        return undefined;
      },
    );
    if (uptime === undefined) wentDown = true;
    // Uptime counts whole seconds: a second of slack.
    else if (wentDown || uptime < before.uptime + (Date.now() - before.at) / 1000 - 1) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new RigError(
    'timeout',
    'restart-timeout',
    wentDown ? 'the board did not answer again within a minute of its restart' : 'the board kept answering with its old uptime: it did not restart within a minute',
    {},
    { cause: lastError },
  );
}
