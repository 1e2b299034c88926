import type { AppManifest } from '../image/app-manifest.js';
import type { AppBehaviour } from '../firmware/app-behaviour.js';
import type { BoardClock } from './board-clock.js';

/**
 * One running application on an emulated board: it plays its behaviour file on
 * the board clock and reports what happens to the OS (the board), which decides
 * about restarts, error reports and health checks.
 */
export type AppState = 'running' | 'stopped' | 'debugging';

export interface AppEvents {
  line(text: string): void;
  /** A line written to the app's ISU UART. */
  uartLine(text: string): void;
  exited(code: number): void;
  crashed(signal: number, signalCode: number): void;
  connect(host: string, allowed: boolean): void;
  deviceAuth(): void;
}

export class AppInstance {
  #state: AppState = 'stopped';
  #timers: number[] = [];
  #hung = false;
  startedAt = 0;
  starts = 0;

  constructor(
    readonly componentId: string,
    readonly imageId: string,
    readonly manifest: AppManifest,
    readonly behaviour: AppBehaviour | undefined,
    private readonly clock: BoardClock,
    private readonly events: AppEvents,
  ) {}

  get state(): AppState {
    return this.#state;
  }

  start(debug = false): void {
    this.stopTimers();
    this.#state = debug ? 'debugging' : 'running';
    this.#hung = false;
    this.startedAt = this.clock.now();
    this.starts += 1;
    const b = this.behaviour;
    if (!b) return;
    const at = (afterMs: number, fn: () => void) => {
      this.#timers.push(this.clock.setTimer(afterMs, () => !this.#hung && this.#state !== 'stopped' && fn()));
    };
    for (const entry of b.log ?? []) {
      if (typeof entry === 'string') at(0, () => this.events.line(entry));
      else at(entry.afterMs, () => this.events.line(entry.line));
    }
    for (const entry of b.uartLog ?? []) {
      if (typeof entry === 'string') at(0, () => this.events.uartLine(entry));
      else at(entry.afterMs, () => this.events.uartLine(entry.line));
    }
    if (b.repeatLog) {
      const { everyMs, line, count } = b.repeatLog;
      let n = 0;
      const tick = () => {
        n += 1;
        this.events.line(line.replace(/\{n\}/g, String(n)));
        if (count === undefined || n < count) at(everyMs, tick);
      };
      at(everyMs, tick);
    }
    for (const c of b.connect ?? []) at(c.afterMs, () => this.events.connect(c.host, this.allows(c.host)));
    if (b.deviceAuth) at(b.deviceAuth.afterMs, () => this.events.deviceAuth());
    if (b.hang) at(b.hang.afterMs, () => (this.#hung = true));
    if (b.exit) at(b.exit.afterMs, () => this.#end(() => this.events.exited(b.exit!.code)));
    if (b.crash) at(b.crash.afterMs, () => this.#end(() => this.events.crashed(b.crash!.signal, b.crash!.signalCode ?? 0)));
  }

  stop(): void {
    this.stopTimers();
    this.#state = 'stopped';
  }

  /** Fault injection: the app dies of a signal now. */
  kill(signal: number): void {
    if (this.#state === 'stopped') return;
    this.#end(() => this.events.crashed(signal, 0));
  }

  allows(host: string): boolean {
    const allowed = this.manifest.Capabilities.AllowedConnections ?? [];
    return allowed.some((pattern: string) => pattern.toLowerCase() === host.toLowerCase());
  }

  stopTimers(): void {
    for (const id of this.#timers) this.clock.cancel(id);
    this.#timers = [];
  }

  #end(report: () => void): void {
    this.stopTimers();
    this.#state = 'stopped';
    report();
  }
}
