import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Deadline, type WaitOptions } from '../../link/deadline.js';
import type { FtdiPort } from '../../link/usb-board-identity.js';
import type { DiscoveredBoard, UsbBoardSource } from '../../link/usb-discovery.js';
import type { InterfaceTty } from '../../link/usb-serial-ports.js';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import type {
  AttestationOutcome,
  Board,
  BoardIdentity,
  BoardInfo,
  BoardState,
  CallOptions,
  FaultSpec,
  RecoveryProgress,
} from '../board.js';
import type { BoardPins } from '../board-pins.js';
import { ConsoleLog } from '../console-log.js';
import { recoverBoard, type RecoveryTimeouts } from '../recovery-client.js';
import { DeviceRestClient } from '../rest/device-rest-client.js';
import { APP_OUTPUT, APP_UART_PREFIX, DEBUG_UART, RECOVERY_UART } from '../console-channel.js';
import { TcpLineSource } from '../tcp-line-source.js';
import { ContinuousConsole, type ConsoleLineSource } from '../continuous-console.js';
import { FtdiBoardPins, type TtyHooks } from './ftdi-board-pins.js';
import { FtdiGpio } from './ftdi-gpio.js';
import { FtdiLatencyTimers } from './ftdi-latency-timer.js';
import type { PowerAction, PowerSwitch } from './power-command.js';
import { REAL_ATTESTATION_WHY, RealBoardNotApplicable } from './real-board-not-applicable.js';
import type { ServiceEndpoint, ServiceLinkProvider } from './service-link.js';

const log = componentLogger('mt3620');

/**
 * The `Board` driver for a real MT3620 development board, bound by USB
 * serial. From above it is the emulated driver's twin: the console is the
 * debug UART (interface A, 115200) as one continuous line history; recovery
 * runs the same recovery client on the recovery UART (interface D) with the
 * strap and reset driven by FTDI bit-bang pins instead of the emulator's
 * control channel; the REST API is the same client over the SLIP service
 * link, pinned to Microsoft's device CA; power is the rig's power command.
 * Only discovery, GPIO and link set-up differ, and all three are injected.
 *
 * The board may come and go: a power cycle or a replug re-enumerates it (new
 * ttyUSBn numbers). The driver follows its USB serial's attach and detach
 * events, reopens console and link, and keeps one console history.
 *
 * States: offline (not on USB), off (powered off by the rig), booting (after
 * attach, power on, reset or recovery until the REST API answers), ready (it
 * answers), rom-recovery (during a recovery), unknown (attached, not
 * answering in time).
 */
export interface Mt3620BoardOptions {
  id: string;
  usbSerial: string;
  tags?: string[];
  tenant?: string | null;
  /** Which FTDI interface drives SYSRST_N (BD6 or DD6). Default B. */
  resetPort?: 'B' | 'D';
  source: UsbBoardSource;
  serviceLink: ServiceLinkProvider;
  power?: PowerSwitch | null;
  /** The board's pins; default FTDI bit-bang on its USB device. `failSafe` runs at every attach. */
  pins?: (board: DiscoveredBoard, hooks: TtyHooks) => AttachedPins;
  /**
   * Recovery line speed: low (115200 with RTS/CTS, switched in place; the
   * default, the path known to work on real boards) or high (3,000,000).
   */
  recoverySpeed?: 'low' | 'high';
  /**
   * UARTs an app drives, wired on the bench to USB serial adapters of their own
   * (not the board's FTDI chip): name -> device path, read at 115200 8N1 as
   * console channel app-uart:NAME while the driver is open.
   */
  appUarts?: Record<string, string>;
  /** The FTDI latency timers, lowered to 1 ms for a recovery; default /sys. */
  latencyTimers?: FtdiLatencyTimers;
  /** After power on or a power cycle, how long the board may take to come back on USB. Default 30 s. */
  powerOnAttachMs?: number;
  /** How often discovery is asked again meanwhile (hot-plug may not reach a container). Default 1 s. */
  rescanMs?: number;
  /** Opens the debug UART; default a ConsoleLog at 115200. */
  openConsole?: (path: string, options: WaitOptions) => Promise<ConsoleLineSource>;
  recoveryTimeouts?: Partial<RecoveryTimeouts>;
  /** How long a tty may take to (re)appear. Default 10 s. */
  ttyWaitMs?: number;
  /** REST polling until ready after attach, power on, reset or recovery. Defaults 1 s, 180 s. */
  readyPollMs?: number;
  readyTimeoutMs?: number;
  /** Link set-up at attach. Default 30 s. */
  linkTimeoutMs?: number;
  /** Called once the driver is closed (the binding releases shared discovery and links). */
  onClosed?: (driver: Mt3620BoardDriver) => Promise<void>;
}

type AttachedPins = BoardPins & { close?(): Promise<void>; failSafe?(options: { timeoutMs?: number }): Promise<void> };

/** The fail-safe at attach gets this long: a wedged chip must not hold up the rest of the attach. */
const FAIL_SAFE_TIMEOUT_MS = 5_000;

interface Attachment {
  board: DiscoveredBoard;
  pins: AttachedPins;
  /** Ends this attachment's background work (console reopen, readiness polling). */
  ended: AbortController;
}

type RecoverOptions = CallOptions & { capability?: Buffer; onProgress?: (p: RecoveryProgress) => void };

export class Mt3620BoardDriver extends EventEmitter<{ state: [state: BoardState] }> implements Board {
  readonly identity: BoardIdentity;
  readonly console: ContinuousConsole;
  readonly #options: Mt3620BoardOptions;
  #state: BoardState = 'offline';
  #attachment: Attachment | undefined;
  #endpoint: ServiceEndpoint | undefined;
  #client: DeviceRestClient | undefined;
  #linkProblem: string | undefined;
  #offlineReason: string;
  #poweredOff = false;
  #closed = false;
  /** Interfaces whose tty is away on purpose (held in bit-bang mode). */
  readonly #ttyAway = new Set<FtdiPort>();
  #probe: AbortController | undefined;
  /** A power-on is waiting for the board to come back on USB. */
  #awaitingAttach = false;
  readonly #latency: FtdiLatencyTimers;
  /** Wakes a power-on waiting for the board to come back on USB. */
  readonly #attached = new EventEmitter<{ attached: [] }>();
  readonly #onAttach = (board: DiscoveredBoard): void => {
    if (board.usbSerial !== this.identity.usbSerial) return;
    // Already attached at that bus address (a rescan got there first): nothing re-enumerated.
    const current = this.#attachment?.board;
    if (current && current.busNumber === board.busNumber && current.deviceAddress === board.deviceAddress) return;
    this.#attach(board, { timeoutMs: this.#options.linkTimeoutMs ?? 30_000 }).catch((error: unknown) =>
      log.warn('re-attaching the board failed', { board: this.identity.id, error: (error as Error).message }),
    );
  };
  readonly #onDetach = (usbSerial: string): void => {
    if (usbSerial !== this.identity.usbSerial) return;
    this.#detach('its USB device went away (unplugged, powered off or re-enumerating)').catch((error: unknown) =>
      log.warn('detaching the board failed', { board: this.identity.id, error: (error as Error).message }),
    );
  };

  private constructor(options: Mt3620BoardOptions) {
    super();
    this.#options = options;
    this.identity = { id: options.id, driver: 'mt3620', deviceId: null, usbSerial: options.usbSerial, tags: options.tags ?? [], tenant: options.tenant ?? null };
    // What a real board prints: the 1BL and Pluton lines on the recovery UART, Microsoft's diagnostics on the debug UART.
    this.console = new ContinuousConsole(options.id, {
      channels: [RECOVERY_UART, DEBUG_UART, APP_OUTPUT, ...Object.keys(options.appUarts ?? {}).map((name) => `${APP_UART_PREFIX}${name}`)],
    });
    this.#latency = options.latencyTimers ?? new FtdiLatencyTimers();
    this.console.on('detached', () => this.#consoleLost());
    this.#offlineReason = `USB serial ${options.usbSerial} is not attached to this host`;
  }

  /**
   * Binds the board: attaches at once when it is on USB, else waits offline for
   * it to appear. Either way the driver follows the board from then on.
   */
  static async open(options: Mt3620BoardOptions, call: CallOptions = {}): Promise<Mt3620BoardDriver> {
    const driver = new Mt3620BoardDriver(options);
    options.source.on('attach', driver.#onAttach);
    options.source.on('detach', driver.#onDetach);
    try {
      await driver.#openAppUarts(call);
      const board = await options.source.find(options.usbSerial, { timeoutMs: call.timeoutMs ?? 10_000, signal: call.signal });
      if (board) await driver.#attach(board, { timeoutMs: options.linkTimeoutMs ?? 30_000, signal: call.signal });
      else log.warn('real board not attached; waiting for it', { board: options.id, usbSerial: options.usbSerial });
    } catch (error) {
      await driver.close();
      throw error;
    }
    return driver;
  }

  state(): BoardState {
    return this.#state;
  }

  /** Why the board is offline, or null when attached. */
  get offlineReason(): string | null {
    return this.#attachment ? null : this.#offlineReason;
  }

  get attachedBoard(): DiscoveredBoard | undefined {
    return this.#attachment?.board;
  }

  async info(options: CallOptions = {}): Promise<BoardInfo> {
    this.#requireAttached('info');
    const base = { usbSerial: this.identity.usbSerial, portPath: this.#attachment?.board.portPath ?? null, serviceLink: this.#linkSummary() };
    const client = this.#restClient();
    if (!client) return { ...base, state: this.#state, osVersion: null, deviceId: this.identity.deviceId, apps: [], restError: this.#linkProblem ?? 'no service link yet' };
    const call = { timeoutMs: Math.min(options.timeoutMs ?? 10_000, 10_000), signal: options.signal };
    try {
      const status = await client.status(call);
      const osVersion = await client.osVersion(call);
      const security = await client.securityState(call);
      if (security.deviceIdentifier) this.identity.deviceId = security.deviceIdentifier;
      // /images needs the AppDevelopment capability; without it the app list is unknown, not an error.
      const apps = await this.#apps(client, call).catch((error: unknown) => {
        if (error instanceof RigError && error.failureClass === 'cancelled') throw error;
        return { unknown: (error as Error).message };
      });
      if (this.#state !== 'rom-recovery') this.#setState('ready');
      const appFields = Array.isArray(apps) ? { apps } : { apps: [], appsError: apps.unknown };
      return { ...base, state: this.#state, osVersion, deviceId: this.identity.deviceId, ...appFields, uptime: status.uptime, restApiVersion: status.apiVersion ?? null };
    } catch (error) {
      if (error instanceof RigError && error.failureClass === 'cancelled') throw error;
      // Booting or hung: a state of the board, not a failure of the call.
      return { ...base, state: this.#state, osVersion: null, deviceId: this.identity.deviceId, apps: [], restError: (error as Error).message };
    }
  }

  async power(on: boolean, options: CallOptions = {}): Promise<void> {
    await this.#switchPower(on ? 'on' : 'off', options);
  }

  /** The power command's `cycle` action. */
  async powerCycle(options: CallOptions = {}): Promise<void> {
    await this.#switchPower('cycle', options);
  }

  async reset(options: CallOptions = {}): Promise<void> {
    const attachment = this.#requireAttached('reset');
    await attachment.pins.reset({ timeoutMs: options.timeoutMs, signal: options.signal });
    this.#setState('booting');
    this.#awaitReady();
  }

  async setRecoveryStrap(high: boolean, options: CallOptions = {}): Promise<void> {
    const attachment = this.#requireAttached('the recovery strap');
    await attachment.pins.setRecoveryStrap(high, { timeoutMs: options.timeoutMs, signal: options.signal });
  }

  restEndpoint(): { baseUrl: string; caPem: string } | undefined {
    this.#requireAttached('the REST API');
    if (this.#endpoint) return { baseUrl: this.#endpoint.baseUrl, caPem: this.#endpoint.caPem };
    // A real board always has a REST API: no endpoint is a rig problem, not "not applicable".
    throw new RigError('infra-error', 'service-link-down', `board ${this.identity.id}: no service link: ${this.#linkProblem ?? 'it is still being brought up'}`);
  }

  async otaInstall(_images?: Buffer[], _options?: CallOptions): Promise<Record<string, unknown>> {
    throw new RealBoardNotApplicable('OTA delivery', 'over-the-air updates come from the cloud service; a rig sideloads over the REST API instead');
  }

  async recover(imagesDir: string, options: RecoverOptions = {}): Promise<void> {
    const attachment = this.#requireAttached('recovery');
    if ((this.#options.resetPort ?? 'B') === 'D') {
      throw new RigError(
        'infra-error',
        'reset-on-recovery-uart',
        `board ${this.identity.id}: recovery needs the reset line on interface B (BD6): pulsing DD6 takes interface D, the recovery UART, away from the kernel just when the ROM prints its banner; set reset.interface: B in the rig (populate the BD6 resistor if this revision lacks it)`,
      );
    }
    const tty = this.#ttyPath(attachment.board.ttys.D);
    if (!tty) throw new RigError('infra-error', 'recovery-uart-missing', `board ${this.identity.id}: no tty for interface D (the recovery UART)`);
    this.#probe?.abort();
    this.#setState('rom-recovery');
    // The recovery client needs the recovery UART to itself; its boot lines are read again after.
    await this.console.detach(RECOVERY_UART);
    // Recovery (D) and console (A) at 1 ms latency for the recovery, then back to what they were.
    const restoreLatency = await this.#latency.lower([tty, this.#ttyPath(attachment.board.ttys.A)].filter((t): t is string => t !== undefined));
    try {
      const result = await recoverBoard({
        port: tty,
        lowSpeed: (this.#options.recoverySpeed ?? 'low') === 'low',
        images: imagesDir,
        capability: options.capability,
        pins: attachment.pins,
        onProgress: options.onProgress
          ? (p) => options.onProgress!({ stage: p.stage, imagesRemaining: p.imagesRemaining, imageCount: p.imageCount, bytesRemaining: p.bytesRemaining, totalBytes: p.totalBytes })
          : undefined,
        signal: options.signal,
        timeoutMs: options.timeoutMs,
        timeouts: this.#options.recoveryTimeouts,
      });
      this.identity.deviceId = result.deviceId;
      this.#setState('booting');
      this.#awaitReady();
    } catch (error) {
      this.#setState('unknown');
      throw error;
    } finally {
      await restoreLatency();
      if (this.#attachment === attachment) await this.#openRecoveryConsole(attachment.ended.signal);
    }
  }

  async attest(_options?: CallOptions): Promise<AttestationOutcome> {
    throw new RealBoardNotApplicable('attestation on demand', REAL_ATTESTATION_WHY);
  }

  async fault(spec: FaultSpec, _options?: CallOptions): Promise<Record<string, unknown>> {
    throw new RealBoardNotApplicable(`fault injection (${spec.kind})`, 'only the emulator can be made to suffer faults; cut power with the power command instead');
  }

  async advanceClock(_ms?: number, _options?: CallOptions): Promise<void> {
    throw new RealBoardNotApplicable('advancing the board clock', 'a real board keeps real time');
  }

  async errorReport(_options?: CallOptions): Promise<unknown> {
    throw new RealBoardNotApplicable('decoded error reports', "GET /telemetry returns a blob whose format Microsoft does not publish; only the emulator's reports can be decoded");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.source.off('attach', this.#onAttach);
    this.#options.source.off('detach', this.#onDetach);
    await this.#detach('the rig closed the board');
    await this.console.close();
    await this.#options.onClosed?.(this);
  }

  // ---- attach and detach ------------------------------------------------------------

  async #attach(board: DiscoveredBoard, options: WaitOptions): Promise<void> {
    if (this.#closed) return;
    if (this.#attachment) await this.#detach('it re-enumerated');
    const ended = new AbortController();
    const hooks: TtyHooks = {
      releasing: async (port) => {
        this.#ttyAway.add(port);
        if (port === 'A') await this.console.detach();
        if (port === 'D') await this.console.detach(RECOVERY_UART);
      },
      returned: (port) => {
        this.#ttyAway.delete(port);
        if (port === 'A') void this.#openConsole(ended.signal).catch(() => undefined);
        if (port === 'D') void this.#openRecoveryConsole(ended.signal);
      },
    };
    const pins = (this.#options.pins ?? defaultPins(this.#options))(board, hooks);
    this.#attachment = { board, pins, ended };
    this.#poweredOff = false;
    this.#attached.emit('attached');
    log.info('real board attached', { board: this.identity.id, usbSerial: board.usbSerial, portPath: board.portPath, ttys: ttyList(board) });
    if (board.usbAccess !== 'ok') log.warn('no access to the board’s USB device: reset, recovery strap and recovery will fail', { board: this.identity.id, usbAccess: board.usbAccess });
    for (const warning of board.warnings) log.warn('board discovery warning', { board: this.identity.id, warning });
    this.#setState('booting');
    if (board.usbAccess === 'ok') await this.#failSafe(pins);
    await this.#openConsole(ended.signal);
    await this.#openRecoveryConsole(ended.signal);
    await this.#bringUpLink(board, options);
    this.#awaitReady();
  }

  async #detach(why: string): Promise<void> {
    const attachment = this.#attachment;
    if (!attachment) return;
    this.#attachment = undefined;
    attachment.ended.abort();
    this.#probe?.abort();
    this.#offlineReason = why;
    this.#ttyAway.clear();
    this.#client?.close();
    this.#client = undefined;
    this.#endpoint = undefined;
    await Promise.allSettled([
      this.console.detach(),
      this.console.detach(RECOVERY_UART),
      this.console.detach(APP_OUTPUT),
      attachment.pins.close?.(),
      this.#options.serviceLink.release(this.identity.usbSerial!),
    ]);
    log.info('real board detached', { board: this.identity.id, why });
    // A power-on that began meanwhile owns the state now (booting until the board is back).
    if (!this.#attachment && !this.#awaitingAttach) this.#setState(this.#poweredOff ? 'off' : 'offline');
  }

  /** Whatever a crashed daemon or a timed-out transfer left behind: UART mode and ftdi_sio on the interfaces the rig drives. */
  async #failSafe(pins: AttachedPins): Promise<void> {
    if (!pins.failSafe) return;
    try {
      await pins.failSafe({ timeoutMs: FAIL_SAFE_TIMEOUT_MS });
    } catch (error) {
      log.warn('FTDI fail-safe at attach failed: the board may be held in reset or strapped for recovery', { board: this.identity.id, error: (error as Error).message });
    }
  }

  async #bringUpLink(board: DiscoveredBoard, options: WaitOptions): Promise<void> {
    try {
      this.#endpoint = await this.#options.serviceLink.endpoint(board, options);
      this.#linkProblem = undefined;
      const appOutput = this.#endpoint.appOutput;
      // A debugged app's output port: reconnected as the app comes and goes.
      if (appOutput) this.console.attach(new TcpLineSource({ host: appOutput.host, port: appOutput.port, name: `${this.identity.id}/${APP_OUTPUT}` }), APP_OUTPUT);
    } catch (error) {
      if (error instanceof RigError && error.failureClass === 'cancelled') throw error;
      this.#linkProblem = (error as Error).message;
      log.warn('service link not available', { board: this.identity.id, why: this.#linkProblem });
    }
  }

  /** Opens the debug UART, waiting for its tty to appear (after attach, or after interface A comes back). */
  async #openConsole(ended: AbortSignal): Promise<void> {
    const deadline = new Deadline(this.#options.ttyWaitMs ?? 10_000);
    const open = this.#options.openConsole ?? defaultOpenConsole(this.identity.id);
    let lastError: unknown;
    while (!ended.aborted && !this.#closed && !this.#ttyAway.has('A')) {
      const board = this.#attachment?.board;
      const path = this.#ttyPath(board?.ttys.A);
      if (path) {
        try {
          const source = await open(path, { timeoutMs: Math.max(1, Math.min(5_000, deadline.remainingMs())), signal: ended });
          if (ended.aborted || this.#closed || this.#ttyAway.has('A')) {
            await source.close();
            return;
          }
          this.console.attach(source);
          return;
        } catch (error) {
          lastError = error;
        }
      }
      if (deadline.expired()) break;
      await delay(250, undefined, { signal: ended }).catch(() => undefined);
      if (path && existsSync(path)) continue;
      // The tty came back under another name (or not yet): ask discovery again.
      const fresh = await this.#options.source.find(this.identity.usbSerial!, { timeoutMs: Math.max(1, deadline.remainingMs()), signal: ended }).catch(() => undefined);
      if (fresh && this.#attachment && !ended.aborted) this.#attachment.board = fresh;
    }
    if (!ended.aborted && !this.#closed && !this.#ttyAway.has('A')) {
      log.warn('debug console not available', { board: this.identity.id, why: lastError instanceof Error ? lastError.message : 'no tty for interface A' });
    }
  }

  /**
   * Reads the recovery UART between recoveries: the 1BL and Pluton lines every boot prints
   * there are how a rig sees a board start. A recovery takes the port to itself meanwhile.
   * Not there or not openable: said once, and the console goes on without it.
   */
  async #openRecoveryConsole(ended: AbortSignal): Promise<void> {
    const path = this.#ttyPath(this.#attachment?.board.ttys.D);
    if (!path || ended.aborted || this.#closed || this.#ttyAway.has('D') || this.console.isAttached(RECOVERY_UART)) return;
    const open = this.#options.openConsole ?? defaultOpenConsole(this.identity.id);
    try {
      const source = await open(path, { timeoutMs: 5_000, signal: ended });
      if (ended.aborted || this.#closed || this.#ttyAway.has('D')) {
        await source.close();
        return;
      }
      this.console.attach(source, RECOVERY_UART);
    } catch (error) {
      log.warn('recovery UART not readable: boot lines will not be seen', { board: this.identity.id, path, error: (error as Error).message });
    }
  }

  /**
   * The bench-wired app UARTs: adapters of their own, so they do not come and go with the
   * board's USB device. One that cannot be opened is said once; the board works without it.
   */
  async #openAppUarts(call: CallOptions): Promise<void> {
    const open = this.#options.openConsole ?? defaultOpenConsole(this.identity.id);
    for (const [name, path] of Object.entries(this.#options.appUarts ?? {})) {
      try {
        this.console.attach(await open(path, { timeoutMs: 5_000, signal: call.signal }), `${APP_UART_PREFIX}${name}`);
      } catch (error) {
        log.warn('app UART not readable', { board: this.identity.id, uart: name, path, error: (error as Error).message });
      }
    }
  }

  /** The console's UART went away without us taking it: reopen unless the board itself left. */
  #consoleLost(): void {
    const attachment = this.#attachment;
    if (!attachment || this.#closed || this.#ttyAway.has('A') || attachment.ended.signal.aborted) return;
    // Give a detach event (which usually follows) a moment to arrive first.
    setTimeout(() => {
      if (this.#attachment === attachment && !this.console.attached && !this.#ttyAway.has('A')) void this.#openConsole(attachment.ended.signal).catch(() => undefined);
    }, 500).unref();
  }

  #ttyPath(tty: InterfaceTty | undefined): string | undefined {
    if (!tty) return undefined;
    // The by-id link follows the board across re-enumeration; ttyUSBn may not.
    return tty.byIdPath && existsSync(tty.byIdPath) ? tty.byIdPath : tty.path;
  }

  // ---- power, readiness, REST -------------------------------------------------------

  async #switchPower(action: PowerAction, options: CallOptions): Promise<void> {
    const power = this.#options.power;
    if (!power) {
      throw new RigError('not-applicable', 'no-power-switch', `board ${this.identity.id} has no power switch: set power.command in the rig (e.g. "uhubctl -l 1-1 -p 2 -r 100 -a {action}")`);
    }
    if (action === 'off') this.#poweredOff = true;
    await power.switch(action, { timeoutMs: options.timeoutMs, signal: options.signal });
    if (action === 'off') {
      this.#probe?.abort();
      this.#setState('off');
      return;
    }
    this.#poweredOff = false;
    this.#setState('booting');
    if (this.#attachment) {
      this.#awaitReady();
      return;
    }
    await this.#awaitAttach(action, options);
  }

  /**
   * After power on, the board's FTDI enumerates afresh: wait for it, asking
   * discovery again every `rescanMs` (hot-plug events may not reach a
   * container), but not for ever: a board that does not come back is an
   * error naming what to check.
   */
  async #awaitAttach(action: PowerAction, options: CallOptions): Promise<void> {
    const limitMs = Math.min(options.timeoutMs ?? Infinity, this.#options.powerOnAttachMs ?? 30_000);
    const deadline = new Deadline(limitMs);
    const rescanMs = this.#options.rescanMs ?? 1_000;
    this.#awaitingAttach = true;
    try {
      await this.#attachWithin(action, options, deadline, limitMs, rescanMs);
    } finally {
      this.#awaitingAttach = false;
    }
  }

  async #attachWithin(action: PowerAction, options: CallOptions, deadline: Deadline, limitMs: number, rescanMs: number): Promise<void> {
    while (!this.#attachment) {
      if (this.#closed) throw new RigError('infra-error', 'board-closed', `board ${this.identity.id} is closed`);
      if (options.signal?.aborted) throw new RigError('cancelled', 'cancelled', `board ${this.identity.id}: waiting for it on USB after power ${action} was cancelled`);
      if (deadline.expired()) {
        this.#setState('offline');
        throw new RigError(
          'infra-error',
          'board-not-back-after-power-on',
          `board ${this.identity.id}: powered ${action === 'cycle' ? 'cycled' : 'on'}, but USB serial ${this.identity.usbSerial} did not appear on USB within ${limitMs} ms; check the power command (does it switch this board's port? uhubctl needs -r N on Linux), the cable and the hub, and \`sphere-rig boards discover\``,
          { usbSerial: this.identity.usbSerial, waitedMs: limitMs },
        );
      }
      const found = await this.#options.source
        .find(this.identity.usbSerial!, { timeoutMs: Math.max(1, Math.min(10_000, deadline.remainingMs())), signal: options.signal })
        .catch(() => undefined);
      if (this.#attachment) break;
      if (found) {
        await this.#attach(found, { timeoutMs: this.#options.linkTimeoutMs ?? 30_000, signal: options.signal });
        break;
      }
      await this.#nextAttachOrRescan(Math.min(rescanMs, Math.max(1, deadline.remainingMs())), options.signal);
    }
  }

  #nextAttachOrRescan(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#attached.off('attached', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#attached.once('attached', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Polls GET /status in the background until the board answers: then it is ready. */
  #awaitReady(): void {
    this.#probe?.abort();
    const attachment = this.#attachment;
    if (!attachment) return;
    if (!this.#endpoint) {
      // Attached, but nothing can tell whether it booted: the link problem is in info() and restEndpoint().
      this.#setState('unknown');
      return;
    }
    const probe = new AbortController();
    this.#probe = probe;
    const signal = AbortSignal.any([probe.signal, attachment.ended.signal]);
    const pollMs = this.#options.readyPollMs ?? 1_000;
    const deadline = new Deadline(this.#options.readyTimeoutMs ?? 180_000);
    void (async () => {
      while (!signal.aborted) {
        const client = this.#restClient();
        const answered = await client
          ?.status({ timeoutMs: Math.min(3_000, Math.max(1, deadline.remainingMs())), signal })
          .then(() => true)
          .catch(() => false);
        if (signal.aborted) return;
        if (answered) {
          if (!this.identity.deviceId) {
            const security = await client!.securityState({ timeoutMs: 3_000, signal }).catch(() => undefined);
            if (security?.deviceIdentifier) this.identity.deviceId = security.deviceIdentifier;
          }
          if (!signal.aborted) this.#setState('ready');
          return;
        }
        if (deadline.expired()) {
          log.warn('board did not answer on its REST API in time', { board: this.identity.id, endpoint: this.#endpoint?.baseUrl });
          this.#setState('unknown');
          return;
        }
        await delay(pollMs, undefined, { signal }).catch(() => undefined);
      }
    })();
  }

  #restClient(): DeviceRestClient | undefined {
    if (!this.#endpoint) return undefined;
    this.#client ??= new DeviceRestClient({ baseUrl: this.#endpoint.baseUrl, caPem: this.#endpoint.caPem });
    return this.#client;
  }

  async #apps(client: DeviceRestClient, call: CallOptions): Promise<BoardInfo['apps']> {
    const images = await client.images(call);
    const apps: BoardInfo['apps'] = [];
    for (const component of images.components ?? []) {
      if (component.image_type !== 10 || !component.uid) continue;
      const state = await client.appStatus(component.uid, call).then((s) => String(s), () => 'unknown');
      apps.push({ componentId: component.uid, ...(component.images?.[0]?.uid ? { imageId: component.images[0].uid } : {}), state });
    }
    return apps;
  }

  #linkSummary(): Record<string, unknown> {
    return this.#endpoint
      ? { state: 'up', baseUrl: this.#endpoint.baseUrl, link: this.#endpoint.link, how: this.#endpoint.how }
      : { state: 'down', reason: this.#linkProblem ?? 'not brought up yet' };
  }

  #requireAttached(what: string): Attachment {
    if (this.#closed) throw new RigError('infra-error', 'board-closed', `board ${this.identity.id} is closed`);
    if (!this.#attachment) {
      throw new RigError('infra-error', 'board-offline', `board ${this.identity.id} (USB serial ${this.identity.usbSerial}) is offline, so ${what} is unavailable: ${this.#offlineReason}`);
    }
    return this.#attachment;
  }

  #setState(state: BoardState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}

function defaultPins(options: Mt3620BoardOptions): (board: DiscoveredBoard, hooks: TtyHooks) => FtdiBoardPins {
  return (board, hooks) => new FtdiBoardPins(new FtdiGpio((wait) => options.source.openUsbDevice(board, wait)), { resetPort: options.resetPort ?? 'B', ttyHooks: hooks });
}

function defaultOpenConsole(name: string): (path: string, options: WaitOptions) => Promise<ConsoleLineSource> {
  return (path, options) => ConsoleLog.open({ path, baudRate: 115200, name, openTimeoutMs: options.timeoutMs, signal: options.signal });
}

function ttyList(board: DiscoveredBoard): Record<string, string> {
  return Object.fromEntries(Object.entries(board.ttys).map(([port, tty]) => [port, tty.path]));
}
