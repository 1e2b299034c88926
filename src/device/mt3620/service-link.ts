import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Deadline, type WaitOptions } from '../../link/deadline.js';
import type { DiscoveredBoard } from '../../link/usb-discovery.js';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { REAL_DEVICE_CA_PATH } from '../rest/device-rest-client.js';
import { CommandError, describeCommand, type CommandRunner, type StartedCommand } from './command-runner.js';
import { freeDeviceAddress, linkForBoard, parseIpJsonAddr, parseIpOneLineAddr, parseSlipInterfaceNames, type SlipLinkInfo } from './ip-addr-output.js';
import {
  addressLinkCommands,
  configureLineCommand,
  listAddressesCommand,
  listAddressesOneLineCommand,
  listLinksCommand,
  slattachCommand,
  type CommandLine,
  type LinkCommandSettings,
} from './slip-link-commands.js';

const log = componentLogger('service-link');

/**
 * Where a board's device REST API is and which CA its TLS certificate must
 * chain to. For real boards that is https://192.168.35.N over the SLIP service
 * link and Microsoft's "Azure Sphere Device" CA; a test points the same driver
 * at an emulated board's loopback server and the emulator's CA.
 */
export interface ServiceEndpoint {
  baseUrl: string;
  caPem: string;
  /** The host interface (sl0...) when known. */
  link: string | null;
  how: 'configured' | 'existing-link' | 'brought-up';
}

export interface ServiceLinkProvider {
  /** The board's endpoint, bringing the link up when needed. */
  endpoint(board: DiscoveredBoard, options: WaitOptions): Promise<ServiceEndpoint>;
  /** The board went away (or the rig stops): end what was started for it. */
  release(usbSerial: string): Promise<void>;
}

export class ServiceLinkError extends RigError {}

/** A fixed endpoint: the rig's `restUrl` for a link someone else manages, or an emulated board in tests. */
export class FixedServiceEndpoint implements ServiceLinkProvider {
  constructor(
    private readonly baseUrl: string,
    private readonly caPem: string,
  ) {}

  async endpoint(): Promise<ServiceEndpoint> {
    return { baseUrl: this.baseUrl, caPem: this.caPem, link: null, how: 'configured' };
  }

  async release(): Promise<void> {}
}

export interface SlipServiceLinksOptions {
  runner: CommandRunner;
  /** The CA to pin; default Microsoft's "Azure Sphere Device" CA (REAL_DEVICE_CA_PATH). */
  caPem?: string;
  commands?: LinkCommandSettings;
  /** How many real boards are attached now: a lone board may adopt a lone untagged link. */
  attachedBoards: () => number;
  /** Each command's limit. Default 10 s. */
  commandTimeoutMs?: number;
  /** How long slattach may take to create slN. Default 5 s. */
  linkAppearMs?: number;
  pollMs?: number;
}

/**
 * The service links of the real boards on this host. For a board it first
 * looks for a link already up (one it tagged earlier with the board's USB
 * serial, or the one link azsphere_connect.sh made when a single board is
 * attached); otherwise it brings one up on interface C's tty: stty, slattach
 * (kept running), then address, tag and raise the new slN. Bring-ups run one
 * at a time, so the new interface is unambiguous.
 */
export class SlipServiceLinks implements ServiceLinkProvider {
  readonly #options: SlipServiceLinksOptions;
  readonly #caPem: string;
  readonly #started = new Map<string, { process: StartedCommand; ifname: string }>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SlipServiceLinksOptions) {
    this.#options = options;
    this.#caPem = options.caPem ?? readFileSync(REAL_DEVICE_CA_PATH, 'utf8');
  }

  endpoint(board: DiscoveredBoard, options: WaitOptions): Promise<ServiceEndpoint> {
    const next = this.#queue.then(() => this.#endpoint(board, options));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** The service links on this host now (read-only: `ip -j addr show`, or `ip -o` on old iproute2). */
  async links(options: WaitOptions): Promise<SlipLinkInfo[]> {
    const json = listAddressesCommand(this.#options.commands);
    const result = await this.#run(json, options, false);
    if (result.code === 0 && result.stdout.trim().startsWith('[')) return parseIpJsonAddr(result.stdout);
    const oneLine = await this.#run(listAddressesOneLineCommand(this.#options.commands), options);
    return parseIpOneLineAddr(oneLine.stdout);
  }

  async release(usbSerial: string): Promise<void> {
    const started = this.#started.get(usbSerial);
    if (!started) return;
    this.#started.delete(usbSerial);
    log.info('stopping the service link', { usbSerial, link: started.ifname, pid: started.process.pid });
    started.process.stop();
    await Promise.race([started.process.exited, delay(2_000, undefined, { ref: false })]);
  }

  async close(): Promise<void> {
    for (const usbSerial of [...this.#started.keys()]) await this.release(usbSerial);
  }

  async #endpoint(board: DiscoveredBoard, options: WaitOptions): Promise<ServiceEndpoint> {
    const deadline = new Deadline(options.timeoutMs);
    const wait = (): WaitOptions => ({ timeoutMs: Math.max(1, deadline.remainingMs()), signal: options.signal });
    const links = await this.links(wait());
    const existing = linkForBoard(links, board.usbSerial, this.#options.attachedBoards() <= 1);
    if (existing?.deviceAddress && existing.up) {
      log.info('using the service link already up', { usbSerial: board.usbSerial, link: existing.ifname, device: existing.deviceAddress });
      return this.#endpointOf(existing.ifname, existing.deviceAddress, 'existing-link');
    }
    const tty = board.ttys.C;
    if (!tty) throw new ServiceLinkError('infra-error', 'service-uart-missing', `board ${board.usbSerial}: no tty for interface C (the service UART), so no service link can be brought up`);
    const path = tty.byIdPath ?? tty.path;
    await this.release(board.usbSerial);
    const before = new Set(parseSlipInterfaceNames((await this.#run(listLinksCommand(this.#options.commands), wait())).stdout));
    await this.#run(configureLineCommand(path, this.#options.commands), wait());
    const attach = slattachCommand(path, this.#options.commands);
    const slattach = this.#options.runner.start(attach.file, attach.args);
    try {
      const ifname = await this.#awaitNewLink(before, slattach, attach, wait);
      const deviceAddress = freeDeviceAddress(links);
      for (const command of addressLinkCommands(ifname, deviceAddress, board.usbSerial, this.#options.commands)) await this.#run(command, wait());
      this.#started.set(board.usbSerial, { process: slattach, ifname });
      log.info('service link up', { usbSerial: board.usbSerial, tty: path, link: ifname, device: deviceAddress, pid: slattach.pid });
      return this.#endpointOf(ifname, deviceAddress, 'brought-up');
    } catch (error) {
      slattach.stop();
      throw error;
    }
  }

  async #awaitNewLink(before: ReadonlySet<string>, slattach: StartedCommand, attach: CommandLine, wait: () => WaitOptions): Promise<string> {
    let exited: { code: number | null; stderr: string } | undefined;
    void slattach.exited.then((result) => (exited = result));
    const deadline = new Deadline(this.#options.linkAppearMs ?? 5_000);
    for (;;) {
      const names = parseSlipInterfaceNames((await this.#run(listLinksCommand(this.#options.commands), wait())).stdout);
      const fresh = names.filter((n) => !before.has(n));
      if (fresh.length === 1) return fresh[0]!;
      if (exited) throw linkFailure(attach, exited.code, exited.stderr);
      const signal = wait().signal;
      if (signal?.aborted) throw new ServiceLinkError('cancelled', 'cancelled', 'bringing up the service link was cancelled', {}, { cause: signal.reason });
      if (deadline.expired()) {
        throw new ServiceLinkError('timeout', 'service-link-timeout', `${describeCommand(attach.file, attach.args)} created no new SLIP interface within ${deadline.timeoutMs} ms`);
      }
      await delay(this.#options.pollMs ?? 100, undefined, signal ? { signal } : {}).catch(() => undefined);
    }
  }

  #endpointOf(ifname: string, deviceAddress: string, how: ServiceEndpoint['how']): ServiceEndpoint {
    return { baseUrl: `https://${deviceAddress}`, caPem: this.#caPem, link: ifname, how };
  }

  async #run(command: CommandLine, options: WaitOptions, mustSucceed = true): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timeoutMs = Math.min(options.timeoutMs, this.#options.commandTimeoutMs ?? 10_000);
    const result = await this.#options.runner.run(command.file, command.args, { timeoutMs, signal: options.signal });
    if (mustSucceed && result.code !== 0) throw linkFailure(command, result.code, result.stderr);
    return result;
  }
}

const NO_PERMISSION = /Operation not permitted|Permission denied|EPERM|EACCES|a password is required/i;

function linkFailure(command: CommandLine, code: number | null, stderr: string): CommandError {
  const said = stderr.trim().split('\n').slice(-2).join(' | ');
  const what = describeCommand(command.file, command.args);
  if (NO_PERMISSION.test(stderr)) {
    return new CommandError(
      'infra-error',
      'service-link-permission',
      `${what} was refused (${said}): bringing up a service link needs CAP_NET_ADMIN for slattach and ip, and read/write access to the tty; see docs/real-boards.md (setcap, or SPHERE_RIG_NET_SUDO=1 with a sudoers rule)`,
    );
  }
  return new CommandError('infra-error', 'service-link-command-failed', `${what} exited with ${code ?? 'a signal'}${said ? `: ${said}` : ''}`);
}
