import { readFileSync } from 'node:fs';
import type { UsbDiscovery } from '../../link/usb-discovery.js';
import { openHostUsbDiscovery } from '../../link/usb-host-discovery.js';
import { InputError } from '../../util/failure.js';
import type { Board } from '../board.js';
import { REAL_DEVICE_CA_PATH } from '../rest/device-rest-client.js';
import { ChildProcessRunner, type CommandRunner } from './command-runner.js';
import { Mt3620BoardDriver } from './mt3620-board-driver.js';
import { PowerCommand } from './power-command.js';
import { FixedServiceEndpoint, SlipServiceLinks } from './service-link.js';
import { componentLogger } from '../../util/logger.js';

const log = componentLogger('real-boards');

/**
 * Binds the real boards of a rig on this host: one USB discovery and one set
 * of service links shared by every real board, opened with the first and
 * closed with the last. A host without a usable USB bus makes the bind fail
 * with a UsbAccessError, which the daemon's board registry turns into an
 * offline board carrying that message, while the rest of the rig serves on.
 *
 * Each board's service link gets its own network namespace (service-link.ts);
 * the first bind (daemon start) takes down namespaces a crashed daemon left.
 *
 * Host settings (environment): SPHERE_RIG_NET_SUDO=1 runs slattach, kill and
 * the ip changes (namespaces included) through `sudo -n`; SPHERE_RIG_SLATTACH
 * names the slattach to use.
 */
export interface RealBoardConfig {
  id: string;
  tags: string[];
  tenant?: string;
  usbSerial?: string;
  power?: { command: string };
  reset?: { interface: 'B' | 'D' };
  restUrl?: string;
  /** Default low: 115200 with RTS/CTS, the path known to work on real boards. */
  recoverySpeed?: 'low' | 'high';
  /** Bench-wired app UARTs: name -> serial device path. */
  appUarts?: Record<string, string>;
}

interface HostEnvironment {
  discovery: UsbDiscovery;
  links: SlipServiceLinks;
  runner: CommandRunner;
  caPem: string;
  drivers: Set<Mt3620BoardDriver>;
}

let shared: Promise<HostEnvironment> | undefined;

async function openEnvironment(): Promise<HostEnvironment> {
  const discovery = await openHostUsbDiscovery();
  discovery.watch();
  const runner = new ChildProcessRunner();
  const caPem = readFileSync(REAL_DEVICE_CA_PATH, 'utf8');
  const drivers = new Set<Mt3620BoardDriver>();
  const links = new SlipServiceLinks({
    runner,
    caPem,
    commands: { sudo: process.env.SPHERE_RIG_NET_SUDO === '1', ...(process.env.SPHERE_RIG_SLATTACH ? { slattach: process.env.SPHERE_RIG_SLATTACH } : {}) },
    // A lone board on the bus may adopt a lone link someone else brought up (azsphere_connect.sh).
    attachedBoards: () => discovery.attachedCount,
  });
  // Daemon start: link namespaces a crashed daemon left behind are taken down before any board is bound.
  if (process.platform === 'linux') {
    await links.cleanUpLeftovers({ timeoutMs: 30_000 }).catch((error: unknown) =>
      log.warn('could not look for leftover link namespaces', { error: (error as Error).message }),
    );
  }
  return { discovery, links, runner, caPem, drivers };
}

function environment(): Promise<HostEnvironment> {
  shared ??= openEnvironment().catch((error: unknown) => {
    // Not cached: the bus may be usable on the next try (a replugged hub, a fixed rule).
    shared = undefined;
    throw error;
  });
  return shared;
}

async function releaseEnvironment(env: HostEnvironment, driver?: Mt3620BoardDriver): Promise<void> {
  if (driver) env.drivers.delete(driver);
  if (env.drivers.size > 0) return;
  shared = undefined;
  env.discovery.close();
  await env.links.close();
}

/** For `BoardRegistry.bind(..., bindRealBoard)`: the mt3620 driver for one rig board. */
export async function bindRealBoard(config: RealBoardConfig): Promise<Board> {
  if (!config.usbSerial) throw new InputError('rig-invalid', `board ${config.id}: a real board needs usbSerial`);
  const env = await environment();
  const driver = await Mt3620BoardDriver.open({
    id: config.id,
    usbSerial: config.usbSerial,
    tags: config.tags,
    tenant: config.tenant ?? null,
    resetPort: config.reset?.interface ?? 'B',
    recoverySpeed: config.recoverySpeed ?? 'low',
    appUarts: config.appUarts ?? {},
    source: env.discovery,
    serviceLink: config.restUrl ? new FixedServiceEndpoint(config.restUrl, env.caPem) : env.links,
    power: config.power ? new PowerCommand(config.power.command, env.runner) : null,
    onClosed: (closed) => releaseEnvironment(env, closed),
  }).catch(async (error: unknown) => {
    await releaseEnvironment(env);
    throw error;
  });
  env.drivers.add(driver);
  return driver;
}
