import { EmulatedBoardDriver, type EmulatedBoardSurfaces } from '../device/emulated/emulated-board-driver.js';
import { OfflineBoard } from '../device/offline-board.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import type { BoardRegistry } from './board-registry.js';
import { EmulatorChild, type EmulatorChildOptions, type EmulatorExit } from './emulator-child.js';
import type { RigBoardConfig } from './rig-config.js';
import type { RunScheduler } from './run-scheduler.js';

/**
 * Keeps the emulator child running. When it dies (not stopped by the daemon),
 * the supervisor logs it once, ends what runs on its boards (scheduler.boardLost:
 * the run ends infra-error `emulator-lost`, queued runs wait saying why), lists
 * the boards offline with the reason, and starts a new emulator with backoff.
 * The state folder keeps the chips, so the boards come back with the same
 * device IDs on new surfaces (ptys, ports): each is bound to a new driver,
 * powered on as at the daemon's start, and handed back to the scheduler
 * (scheduler.boardBack), which health-checks it before any run.
 *
 * Backoff before a restart: 1 s, then doubling after each emulator that dies
 * within a minute of its start or fails to start, up to 30 s; an emulator that
 * stayed up a minute starts the count again.
 */
export interface EmulatorSupervisorOptions {
  /** How to start the emulator, each time. */
  child: EmulatorChildOptions;
  /** The rig's emulated boards. */
  boards: readonly RigBoardConfig[];
  registry: BoardRegistry;
  scheduler: Pick<RunScheduler, 'boardLost' | 'boardBack'>;
  backoff?: Partial<EmulatorBackoff>;
}

export interface EmulatorBackoff {
  firstMs: number;
  maxMs: number;
  /** An emulator that stayed up this long resets the backoff. */
  resetAfterMs: number;
}

export const EMULATOR_BACKOFF: Readonly<EmulatorBackoff> = { firstMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/** What boards show (offlineReason) and queued runs say (waiting) while the emulator is down. */
export const EMULATOR_RESTARTING = 'emulator restarting';
const POWER_ON_TIMEOUT_MS = 30_000;
const log = componentLogger('emulator');

export class EmulatorSupervisor {
  readonly #options: EmulatorSupervisorOptions;
  readonly #backoff: EmulatorBackoff;
  #child: EmulatorChild;
  #startedAt = Date.now();
  /** Restarts in a row without an emulator that stayed up resetAfterMs. */
  #failures = 0;
  #watching = false;
  #stopped = false;
  /** An exit seen before watch(): handled then. */
  #exitBeforeWatch: EmulatorExit | undefined;
  #recovery: Promise<void> | undefined;
  /** Aborted when supervision stops: a start under way is given up. */
  readonly #supervising = new AbortController();
  readonly #declaredLost = new WeakSet<EmulatorChild>();
  #wakeUp: (() => void) | undefined;

  private constructor(options: EmulatorSupervisorOptions, child: EmulatorChild) {
    this.#options = options;
    this.#backoff = { ...EMULATOR_BACKOFF, ...options.backoff };
    this.#child = child;
    this.#follow(child);
  }

  /** Starts the first emulator; its failure is the caller's (the daemon does not start). */
  static async start(options: EmulatorSupervisorOptions): Promise<EmulatorSupervisor> {
    const child = await EmulatorChild.start(options.child);
    // A board the emulator does not host is listed offline by the registry for good; there is nothing to restart for it.
    const boards = options.boards.filter((b) => b.driver === 'emulated' && child.boards[b.emulatorBoard ?? -1] !== undefined);
    return new EmulatorSupervisor({ ...options, boards }, child);
  }

  /** The surfaces of the emulator now running. */
  get boards(): EmulatedBoardSurfaces[] {
    return this.#child.boards;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** From now on a death is acted on (the daemon calls this once its boards are bound and powered). */
  watch(): void {
    if (this.#stopped || this.#watching) return;
    this.#watching = true;
    const exit = this.#exitBeforeWatch;
    this.#exitBeforeWatch = undefined;
    if (exit) this.#lost(this.#child, exit);
  }

  /** No more restarts: what exits from now on was stopped by the daemon. Called first thing in the daemon's close. */
  stopSupervising(): void {
    this.#stopped = true;
    this.#supervising.abort();
    this.#wakeUp?.();
  }

  /** Stops supervising, waits for a restart under way to give up, and stops the emulator. */
  async stop(): Promise<void> {
    this.stopSupervising();
    await this.#recovery;
    await this.#child.stop();
  }

  #follow(child: EmulatorChild): void {
    void child.exited.then((exit) => {
      if (this.#stopped || child !== this.#child) return;
      if (!this.#watching) this.#exitBeforeWatch = exit;
      else if (!this.#recovery) this.#lost(child, exit);
      // During a recovery the new child's death fails that attempt, which tries again.
    });
  }

  #lost(child: EmulatorChild, exit: EmulatorExit): void {
    if (this.#stopped || this.#declaredLost.has(child)) return;
    this.#declaredLost.add(child);
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
    const upMs = Date.now() - this.#startedAt;
    if (upMs >= this.#backoff.resetAfterMs) this.#failures = 0;
    log.error('the emulator process died; restarting it', { pid: child.pid, code: exit.code, signal: exit.signal, upMs, boards: this.#options.boards.map((b) => b.id) });
    const error = new RigError('infra-error', 'emulator-lost', `the emulator process died (${how}); restarting it`, { code: exit.code, signal: exit.signal });
    for (const config of this.#options.boards) {
      this.#offline(config.id);
      this.#options.scheduler.boardLost(config.id, error, EMULATOR_RESTARTING);
    }
    this.#recovery = this.#restart().finally(() => {
      this.#recovery = undefined;
      // Died between its recovery's last check and now (an exit during a recovery is left to the recovery).
      const current = this.#child;
      if (!this.#stopped && !current.running) void current.exited.then((exit) => this.#lost(current, exit));
    });
  }

  /** Lists the board offline, saying why, in place of its driver (closed). */
  #offline(boardId: string): void {
    const current = this.#options.registry.boards.get(boardId);
    if (!current || current instanceof OfflineBoard) return;
    const old = this.#options.registry.replace(new OfflineBoard(current.identity, EMULATOR_RESTARTING), EMULATOR_RESTARTING);
    void old.close().catch(() => undefined);
  }

  async #restart(): Promise<void> {
    while (!this.#stopped) {
      const delayMs = Math.min(this.#backoff.firstMs * 2 ** this.#failures, this.#backoff.maxMs);
      this.#failures += 1;
      log.info('restarting the emulator', { inMs: delayMs, attempt: this.#failures });
      await this.#sleep(delayMs);
      if (this.#stopped) return;
      let child: EmulatorChild | undefined;
      const drivers: EmulatedBoardDriver[] = [];
      try {
        child = await EmulatorChild.start({ ...this.#options.child, signal: this.#supervising.signal });
        if (this.#stopped) throw new RigError('cancelled', 'daemon-stopping', 'the daemon is stopping');
        for (const config of this.#options.boards) {
          const surfaces = child.boards[config.emulatorBoard ?? -1];
          if (!surfaces) throw new RigError('infra-error', 'emulator-board-missing', `the emulator has no board ${String(config.emulatorBoard)} for ${config.id}`);
          const previous = this.#options.registry.boards.get(config.id);
          const identity = { id: config.id, tags: config.tags, tenant: config.tenant ?? null };
          drivers.push(await EmulatedBoardDriver.connect(identity, surfaces, { signal: this.#supervising.signal }));
          if (previous?.identity.deviceId && previous.identity.deviceId !== surfaces.deviceId) {
            log.warn('an emulated board came back with another device ID', { board: config.id, was: previous.identity.deviceId, now: surfaces.deviceId });
          }
        }
        if (this.#stopped) throw new RigError('cancelled', 'daemon-stopping', 'the daemon is stopping');
        this.#child = child;
        this.#startedAt = Date.now();
        this.#follow(child);
        for (const driver of drivers) this.#options.registry.replace(driver);
        // As at the daemon's start: the emulator starts its boards off.
        for (const driver of drivers) if (driver.state() === 'off') await driver.power(true, { timeoutMs: POWER_ON_TIMEOUT_MS, signal: this.#supervising.signal });
        if (!child.running) throw new RigError('infra-error', 'emulator-exited', 'the restarted emulator exited while its boards were powered on');
        log.warn('the emulator was restarted', { pid: child.pid, attempt: this.#failures, boards: drivers.map((d) => d.identity.id) });
        for (const driver of drivers) this.#options.scheduler.boardBack(driver.identity.id);
        return;
      } catch (error) {
        const stopping = this.#stopped;
        if (!stopping) log.error('the emulator did not restart', { attempt: this.#failures, error: (error as Error).message });
        // Whatever this attempt put in place goes again: the boards stay offline with the reason.
        for (const config of this.#options.boards) if (drivers.some((d) => this.#options.registry.boards.get(config.id) === d)) this.#offline(config.id);
        await Promise.allSettled(drivers.map((d) => d.close()));
        await child?.stop();
        if (stopping) return;
      }
    }
  }

  /** Waits `ms`, or less if supervision stops meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeUp = done;
    }).then(() => {
      this.#wakeUp = undefined;
    });
  }
}
