import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Deadline, type WaitOptions } from '../../link/deadline.js';
import type { DiscoveredBoard } from '../../link/usb-discovery.js';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { REAL_DEVICE_CA_PATH } from '../rest/device-rest-client.js';
import { CommandError, describeCommand, type CommandRunner, type StartedCommand } from './command-runner.js';
import { linkForBoard, parseIpJsonAddr, parseIpOneLineAddr, parseSlipInterfaceNames, type SlipLinkInfo } from './ip-addr-output.js';
import {
  addNamespaceCommand,
  addressNamespacedLinkCommands,
  deleteNamespaceCommand,
  DEVICE_APP_OUTPUT_PORT,
  forwarderCommand,
  isRigNamespace,
  listAddressesInNamespaceCommand,
  listLinksInNamespaceCommand,
  listNamespacesCommand,
  moveLinkCommand,
  namespaceFor,
  namespacePidsCommand,
  parseNamespaceList,
  slattachInNamespaceCommand,
  terminateCommand,
  type ForwarderProgram,
} from './link-namespace-commands.js';
import { openLoopbackBridge, type LoopbackBridge, type OpenLoopbackBridge } from './loopback-bridge.js';
import {
  configureLineCommand,
  listAddressesCommand,
  listAddressesOneLineCommand,
  listLinksCommand,
  SERVICE_LINK_DEVICE_ADDRESS,
  type CommandLine,
  type LinkCommandSettings,
} from './slip-link-commands.js';

const log = componentLogger('service-link');

/**
 * Where a board's device REST API is and which CA its TLS certificate must
 * chain to. For real boards that is the board's 192.168.35.2 inside its link
 * namespace, reached through a loopback bridge (https://127.0.0.1:PORT), and
 * Microsoft's "Azure Sphere Device" CA; a test points the same driver
 * at an emulated board's loopback server and the emulator's CA.
 */
export interface ServiceEndpoint {
  baseUrl: string;
  caPem: string;
  /** The host interface (sl0..., or <namespace>/sl0) when known. */
  link: string | null;
  how: 'configured' | 'existing-link' | 'brought-up';
  /** The board's link namespace, when it has one. */
  namespace?: string;
  /** Where a debugged app's output port (TCP 2342 on the device) is reached from the rig, when it can be. */
  appOutput?: { host: string; port: number };
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
    /** Where the app output port is, when known (an emulated board's appOutputPort in tests). */
    private readonly appOutput?: { host: string; port: number },
  ) {}

  async endpoint(): Promise<ServiceEndpoint> {
    return { baseUrl: this.baseUrl, caPem: this.caPem, link: null, how: 'configured', ...(this.appOutput ? { appOutput: this.appOutput } : {}) };
  }

  async release(): Promise<void> {}
}

export interface SlipServiceLinksOptions {
  runner: CommandRunner;
  /** The CA to pin; default Microsoft's "Azure Sphere Device" CA (REAL_DEVICE_CA_PATH). */
  caPem?: string;
  commands?: LinkCommandSettings;
  /** How many real boards are attached now: a lone board may adopt a lone untagged link in the host's namespace. */
  attachedBoards: () => number;
  /** Each command's limit. Default 10 s. */
  commandTimeoutMs?: number;
  /** How long slattach may take to create slN. Default 5 s. */
  linkAppearMs?: number;
  pollMs?: number;
  /** Where the forwarders' Unix sockets go. Default <tmpdir>/sphere-rig-links-<uid> (mode 0700). */
  runDir?: string;
  /** The in-namespace forwarder program; default this Node running namespace-forwarder-main.js as the rig's user. */
  forwarder?: ForwarderProgram;
  /** Opens the rig's loopback end of a forwarder; tests pass one that listens on nothing off loopback. */
  openBridge?: OpenLoopbackBridge;
}

interface BoardLink {
  namespace: string;
  ifname: string;
  slattach: StartedCommand | null;
  forwarder: StartedCommand;
  bridge: LoopbackBridge;
  /** The same pair for the app output port; absent when it could not be set up. */
  appOutput?: { forwarder: StartedCommand; bridge: LoopbackBridge };
  endpoint: ServiceEndpoint;
}

/**
 * The service links of the real boards on this host, one network namespace
 * per board (link-namespace-commands.ts): each board's slN lives in
 * `sphere-rig-<USB serial>` as host 192.168.35.1, device 192.168.35.2, and
 * the REST client reaches it through a forwarder started inside the
 * namespace (a Unix socket) and a loopback bridge in the rig
 * (https://127.0.0.1:PORT, TLS end to end). For a board it:
 *   - reuses what it set up already;
 *   - with a lone board, adopts a lone untagged link in the host's namespace
 *     (azsphere_connect.sh's), reached at 192.168.35.2 directly;
 *   - creates the namespace unless it exists, reuses a link already up in it,
 *     or brings one up: stty, slattach inside the namespace (kept running),
 *     the new slN moved in if the kernel made it in the host's namespace,
 *     then loopback, address, tag and link up inside.
 * `release` stops forwarder and slattach and deletes the namespace;
 * `cleanUpLeftovers` (daemon start) does the same for every sphere-rig-*
 * namespace a crashed daemon left. Bring-ups run one at a time, so a new slN
 * is unambiguous. No board ever gets another address than .2.
 */
export class SlipServiceLinks implements ServiceLinkProvider {
  readonly #options: SlipServiceLinksOptions;
  readonly #caPem: string;
  readonly #links = new Map<string, BoardLink>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SlipServiceLinksOptions) {
    this.#options = options;
    this.#caPem = options.caPem ?? readFileSync(REAL_DEVICE_CA_PATH, 'utf8');
  }

  endpoint(board: DiscoveredBoard, options: WaitOptions): Promise<ServiceEndpoint> {
    return this.#serial(() => this.#endpoint(board, options));
  }

  /**
   * The service links on this host now (read-only): the host namespace's
   * (`ip -j addr show`, or `ip -o` on old iproute2), then those inside the
   * rig's namespaces where this process may look (ifname `<namespace>/slN`).
   */
  async links(options: WaitOptions): Promise<SlipLinkInfo[]> {
    const json = listAddressesCommand(this.#options.commands);
    const result = await this.#run(json, options, false);
    const host =
      result.code === 0 && result.stdout.trim().startsWith('[')
        ? parseIpJsonAddr(result.stdout)
        : parseIpOneLineAddr((await this.#run(listAddressesOneLineCommand(this.#options.commands), options)).stdout);
    const inside: SlipLinkInfo[] = [];
    for (const namespace of await this.#rigNamespaces(options).catch(() => [])) {
      const listed = await this.#run(listAddressesInNamespaceCommand(namespace, this.#options.commands), options, false).catch(() => undefined);
      if (listed?.code !== 0 || !listed.stdout.trim().startsWith('[')) continue;
      inside.push(...parseIpJsonAddr(listed.stdout).map((l) => ({ ...l, ifname: `${namespace}/${l.ifname}` })));
    }
    return [...host, ...inside];
  }

  release(usbSerial: string): Promise<void> {
    return this.#serial(() => this.#release(usbSerial));
  }

  /** At daemon start: what a crashed daemon left (sphere-rig-* namespaces, their slattach and forwarder) is taken down. */
  cleanUpLeftovers(options: WaitOptions): Promise<string[]> {
    return this.#serial(async () => {
      const owned = new Set([...this.#links.values()].map((l) => l.namespace));
      const leftovers = (await this.#rigNamespaces(options)).filter((n) => !owned.has(n));
      for (const namespace of leftovers) {
        log.warn('taking down a link namespace left from an earlier run', { namespace });
        await this.#teardownNamespace(namespace, options);
      }
      return leftovers;
    });
  }

  async close(): Promise<void> {
    for (const usbSerial of [...this.#links.keys()]) await this.release(usbSerial);
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #endpoint(board: DiscoveredBoard, options: WaitOptions): Promise<ServiceEndpoint> {
    const known = this.#links.get(board.usbSerial);
    if (known) return known.endpoint;
    const deadline = new Deadline(options.timeoutMs);
    const wait = (): WaitOptions => ({ timeoutMs: Math.max(1, deadline.remainingMs()), signal: options.signal });
    const settings = this.#options.commands;

    if (this.#options.attachedBoards() <= 1) {
      const adopted = linkForBoard(await this.links(wait()), board.usbSerial, true);
      if (adopted?.deviceAddress && adopted.up && !adopted.ifname.includes('/') && adopted.alias === null) {
        log.info('using the service link already up in the host namespace', { usbSerial: board.usbSerial, link: adopted.ifname, device: adopted.deviceAddress });
        return {
          baseUrl: `https://${adopted.deviceAddress}`,
          caPem: this.#caPem,
          link: adopted.ifname,
          how: 'existing-link',
          appOutput: { host: adopted.deviceAddress, port: DEVICE_APP_OUTPUT_PORT },
        };
      }
    }

    const tty = board.ttys.C;
    if (!tty) throw new ServiceLinkError('infra-error', 'service-uart-missing', `board ${board.usbSerial}: no tty for interface C (the service UART), so no service link can be brought up`);
    const path = tty.byIdPath ?? tty.path;
    const namespace = namespaceFor(board.usbSerial);
    if (!(await this.#namespaces(wait())).includes(namespace)) await this.#run(addNamespaceCommand(namespace, settings), wait());

    const inside = parseIpJsonAddr((await this.#run(listAddressesInNamespaceCommand(namespace, settings), wait())).stdout);
    const existing = linkForBoard(inside, board.usbSerial, false);
    let slattach: StartedCommand | null = null;
    let ifname: string;
    let how: ServiceEndpoint['how'];
    if (existing?.up) {
      ifname = existing.ifname;
      how = 'existing-link';
    } else {
      const before = await this.#slipNames(namespace, wait);
      await this.#run(configureLineCommand(path, settings), wait());
      const attach = slattachInNamespaceCommand(namespace, path, settings);
      slattach = this.#options.runner.start(attach.file, attach.args);
      try {
        const created = await this.#awaitNewLink(namespace, before, slattach, attach, wait);
        if (created.where === 'host') await this.#run(moveLinkCommand(created.ifname, namespace, settings), wait());
        for (const command of addressNamespacedLinkCommands(namespace, created.ifname, board.usbSerial, settings)) await this.#run(command, wait());
        ifname = created.ifname;
        how = 'brought-up';
      } catch (error) {
        slattach.stop();
        throw error;
      }
    }
    const socketPath = join(this.#runDir(), `${namespace}.sock`);
    const forward = forwarderCommand(namespace, socketPath, this.#options.forwarder ?? defaultForwarder(), settings);
    const forwarder = this.#options.runner.start(forward.file, forward.args);
    let bridge: LoopbackBridge;
    try {
      bridge = await (this.#options.openBridge ?? openLoopbackBridge)(socketPath);
    } catch (error) {
      forwarder.stop();
      slattach?.stop();
      throw error;
    }
    const appOutput = await this.#appOutputPair(namespace, settings);
    const endpoint: ServiceEndpoint = {
      baseUrl: `https://127.0.0.1:${bridge.port}`,
      caPem: this.#caPem,
      link: `${namespace}/${ifname}`,
      how,
      namespace,
      ...(appOutput ? { appOutput: { host: '127.0.0.1', port: appOutput.bridge.port } } : {}),
    };
    this.#links.set(board.usbSerial, { namespace, ifname, slattach, forwarder, bridge, ...(appOutput ? { appOutput } : {}), endpoint });
    log.info('service link up in its namespace', { usbSerial: board.usbSerial, tty: path, namespace, link: ifname, device: SERVICE_LINK_DEVICE_ADDRESS, via: endpoint.baseUrl });
    return endpoint;
  }

  /**
   * A second forwarder and bridge for the device's app output port (2342), so a debugged app's
   * output reaches the rig as it does Microsoft's tools. Not having it costs only that channel.
   */
  async #appOutputPair(namespace: string, settings: LinkCommandSettings | undefined): Promise<{ forwarder: StartedCommand; bridge: LoopbackBridge } | undefined> {
    const socketPath = join(this.#runDir(), `${namespace}-app-output.sock`);
    const forward = forwarderCommand(namespace, socketPath, this.#options.forwarder ?? defaultForwarder(), settings ?? {}, DEVICE_APP_OUTPUT_PORT);
    const forwarder = this.#options.runner.start(forward.file, forward.args);
    try {
      return { forwarder, bridge: await (this.#options.openBridge ?? openLoopbackBridge)(socketPath) };
    } catch (error) {
      forwarder.stop();
      log.warn('no route to the app output port: debugged apps will not be heard', { namespace, error: (error as Error).message });
      return undefined;
    }
  }

  async #release(usbSerial: string): Promise<void> {
    const link = this.#links.get(usbSerial);
    if (!link) return;
    this.#links.delete(usbSerial);
    log.info('taking the service link down', { usbSerial, namespace: link.namespace, link: link.ifname });
    await link.bridge.close();
    await link.appOutput?.bridge.close();
    for (const process of [link.forwarder, link.appOutput?.forwarder, link.slattach]) process?.stop();
    await Promise.race([Promise.all([link.forwarder.exited, link.appOutput?.forwarder.exited, link.slattach?.exited]), delay(2_000, undefined, { ref: false })]);
    await this.#run(deleteNamespaceCommand(link.namespace, this.#options.commands), { timeoutMs: 10_000 }, false).catch((error: unknown) =>
      log.warn('deleting the link namespace failed', { namespace: link.namespace, error: (error as Error).message }),
    );
  }

  /** A leftover: every process in it (slattach, forwarder) terminated, then the name deleted. */
  async #teardownNamespace(namespace: string, options: WaitOptions): Promise<void> {
    const settings = this.#options.commands;
    const pids = (await this.#run(namespacePidsCommand(namespace, settings), options, false)).stdout
      .split(/\s+/)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 1);
    for (const pid of pids) await this.#run(terminateCommand(pid, settings), options, false);
    await this.#run(deleteNamespaceCommand(namespace, settings), options);
  }

  async #namespaces(options: WaitOptions): Promise<string[]> {
    const result = await this.#run(listNamespacesCommand(this.#options.commands), options);
    return parseNamespaceList(result.stdout);
  }

  async #rigNamespaces(options: WaitOptions): Promise<string[]> {
    return (await this.#namespaces(options)).filter(isRigNamespace);
  }

  async #slipNames(namespace: string, wait: () => WaitOptions): Promise<{ host: Set<string>; inside: Set<string> }> {
    const settings = this.#options.commands;
    return {
      host: new Set(parseSlipInterfaceNames((await this.#run(listLinksCommand(settings), wait())).stdout)),
      inside: new Set(parseSlipInterfaceNames((await this.#run(listLinksInNamespaceCommand(namespace, settings), wait())).stdout)),
    };
  }

  /** The slN slattach made: inside the namespace, or (where the SLIP driver registers it in the host's) outside. */
  async #awaitNewLink(
    namespace: string,
    before: { host: Set<string>; inside: Set<string> },
    slattach: StartedCommand,
    attach: CommandLine,
    wait: () => WaitOptions,
  ): Promise<{ ifname: string; where: 'host' | 'namespace' }> {
    let exited: { code: number | null; stderr: string } | undefined;
    void slattach.exited.then((result) => (exited = result));
    const deadline = new Deadline(this.#options.linkAppearMs ?? 5_000);
    for (;;) {
      const now = await this.#slipNames(namespace, wait);
      const inside = [...now.inside].filter((n) => !before.inside.has(n));
      if (inside.length === 1) return { ifname: inside[0]!, where: 'namespace' };
      const host = [...now.host].filter((n) => !before.host.has(n));
      if (host.length === 1) return { ifname: host[0]!, where: 'host' };
      if (exited) throw linkFailure(attach, exited.code, exited.stderr);
      const signal = wait().signal;
      if (signal?.aborted) throw new ServiceLinkError('cancelled', 'cancelled', 'bringing up the service link was cancelled', {}, { cause: signal.reason });
      if (deadline.expired()) {
        throw new ServiceLinkError('timeout', 'service-link-timeout', `${describeCommand(attach.file, attach.args)} created no new SLIP interface within ${deadline.timeoutMs} ms`);
      }
      await delay(this.#options.pollMs ?? 100, undefined, signal ? { signal } : {}).catch(() => undefined);
    }
  }

  #runDir(): string {
    const dir = this.#options.runDir ?? join(tmpdir(), `sphere-rig-links-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async #run(command: CommandLine, options: WaitOptions, mustSucceed = true): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timeoutMs = Math.min(options.timeoutMs, this.#options.commandTimeoutMs ?? 10_000);
    const result = await this.#options.runner.run(command.file, command.args, { timeoutMs, signal: options.signal });
    if (mustSucceed && result.code !== 0) throw linkFailure(command, result.code, result.stderr);
    return result;
  }
}

/** This Node running the compiled forwarder (or, from the sources under tsx, the TypeScript one). */
function defaultForwarder(): ForwarderProgram {
  const compiled = fileURLToPath(new URL('./namespace-forwarder-main.js', import.meta.url));
  const command = existsSync(compiled)
    ? [process.execPath, compiled]
    : [process.execPath, '--import', 'tsx', fileURLToPath(new URL('./namespace-forwarder-main.ts', import.meta.url))];
  return { command, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

const NO_PERMISSION = /Operation not permitted|Permission denied|EPERM|EACCES|a password is required/i;

function linkFailure(command: CommandLine, code: number | null, stderr: string): CommandError {
  const said = stderr.trim().split('\n').slice(-2).join(' | ');
  const what = describeCommand(command.file, command.args);
  if (NO_PERMISSION.test(stderr)) {
    return new CommandError(
      'infra-error',
      'service-link-permission',
      `${what} was refused (${said}): a service link in its own network namespace needs CAP_SYS_ADMIN (ip netns) and CAP_NET_ADMIN (slattach, ip), and read/write access to the tty; see docs/real-boards.md (SPHERE_RIG_NET_SUDO=1 with a sudoers rule, or run the daemon with those capabilities)`,
    );
  }
  return new CommandError('infra-error', 'service-link-command-failed', `${what} exited with ${code ?? 'a signal'}${said ? `: ${said}` : ''}`);
}
